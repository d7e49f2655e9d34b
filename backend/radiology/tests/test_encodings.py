"""MR_small in each of pydicom's encodings passes the checks and is stored; a truncated encapsulated
file is rejected (the check splits the frames without needing a codec)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from radiology.models import Study
from radiology.tests.conftest import upload
from radiology.tests.dicom_files import fresh_instance, to_bytes

pytestmark = pytest.mark.django_db
ENCODINGS = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
             "MR_small_implicit.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
             "MR_small_padded.dcm"]  # fmt: skip


def test_every_encoding_is_accepted(rib, pacs):
    datasets = [fresh_instance(name) for name in ENCODINGS]
    pacs.track(*(ds.StudyInstanceUID for ds in datasets))
    files = [SimpleUploadedFile(name, to_bytes(ds)) for name, ds in zip(ENCODINGS, datasets, strict=True)]
    response = upload(rib, *files)
    assert response.status_code == 201, response.content
    assert [r["status"] for r in response.json()["results"]] == ["stored"] * len(ENCODINGS), response.json()
    assert Study.objects.count() == len(ENCODINGS)


def test_truncated_encapsulated_pixel_data_is_rejected(rib, pacs):
    dataset = fresh_instance("MR_small_RLE.dcm")
    data = to_bytes(dataset)
    response = upload(rib, SimpleUploadedFile("cut.dcm", data[: len(data) - 600]))
    assert response.status_code == 400, response.content
    assert response.json()["results"][0]["code"] == "invalid_dicom"
    assert pacs.study_id(dataset.StudyInstanceUID) is None
