"""MR_small and emri_small (Enhanced MR, 10 frames; from pydicom-data) in each of their encodings pass
the checks and are stored; truncated encapsulated files are rejected (the check splits the frames
without needing a codec)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.data import get_testdata_file

from radiology.models import Study
from radiology.testing import fresh_instance, to_bytes
from radiology.tests.conftest import upload

pytestmark = pytest.mark.django_db
ENCODINGS = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
             "MR_small_implicit.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
             "MR_small_padded.dcm"]  # fmt: skip
SHORT = "emri_small_jpeg_2k_lossless_too_short.dcm"
ENHANCED_ENCODINGS = ["emri_small.dcm", "emri_small_RLE.dcm", "emri_small_big_endian.dcm",
                      "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm"]  # fmt: skip


@pytest.mark.parametrize("names", [ENCODINGS, ENHANCED_ENCODINGS], ids=["MR_small", "emri_small"])
def test_every_encoding_is_accepted(rib, pacs, names):
    datasets = [fresh_instance(name) for name in names]
    pacs.track(*(ds.StudyInstanceUID for ds in datasets))
    files = [SimpleUploadedFile(name, to_bytes(ds)) for name, ds in zip(names, datasets, strict=True)]
    response = upload(rib, *files)
    assert response.status_code == 201, response.content
    assert [r["status"] for r in response.json()["results"]] == ["stored"] * len(names), response.json()
    for dataset in datasets:
        (series,) = Study.objects.get(study_instance_uid=dataset.StudyInstanceUID).series.all()
        (instance,) = pacs.client.list_instances(series.orthanc_id)
        frames = instance["MainDicomTags"].get("NumberOfFrames", 1)
        assert int(frames) == int(dataset.get("NumberOfFrames", 1)), (series.description, frames)


def test_real_truncated_multiframe_file_is_rejected(rib, pacs):
    """pydicom-data's emri_small_jpeg_2k_lossless_too_short.dcm: a real file cut short."""
    response = upload(rib, SimpleUploadedFile("short.dcm", Path(get_testdata_file(SHORT)).read_bytes()))
    assert response.status_code == 400, response.content
    result = response.json()["results"][0]
    assert (result["status"], result["code"]) == ("rejected", "invalid_dicom"), result


def test_truncated_encapsulated_pixel_data_is_rejected(rib, pacs):
    dataset = fresh_instance("MR_small_RLE.dcm")
    data = to_bytes(dataset)
    response = upload(rib, SimpleUploadedFile("cut.dcm", data[: len(data) - 600]))
    assert response.status_code == 400, response.content
    assert response.json()["results"][0]["code"] == "invalid_dicom"
    assert pacs.study_id(dataset.StudyInstanceUID) is None
