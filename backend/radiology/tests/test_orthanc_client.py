"""OrthancClient against the real Orthanc (with its DICOMweb plugin) started by scripts/services.sh."""

import pydicom
import pytest

from core.http import ExternalAuthRefused, ExternalNotFound, ExternalRejected
from radiology.clients.orthanc_client import OrthancClient
from radiology.testing import fresh_instance, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def orthanc():
    client = OrthancClient()
    created: list[str] = []
    client.created = created
    yield client
    for study_id in set(created):
        client.delete_study(study_id)


@pytest.fixture
def stored(orthanc):
    dataset = fresh_instance()
    data = to_bytes(dataset)
    result = orthanc.upload_instance(data)
    orthanc.created.append(result.study_id)
    return dataset, data, result


def test_upload_is_idempotent(orthanc, stored):
    _, data, first = stored
    assert not first.already_stored
    again = orthanc.upload_instance(data)
    assert again.already_stored and again.instance_id == first.instance_id


def test_study_series_instances_and_lookup(orthanc, stored):
    dataset, _, result = stored
    study = orthanc.get_study(result.study_id)
    assert study["MainDicomTags"]["StudyInstanceUID"] == dataset.StudyInstanceUID
    assert [series["ID"] for series in orthanc.list_series(result.study_id)] == [result.series_id]
    assert [instance["ID"] for instance in orthanc.list_instances(result.series_id)] == [result.instance_id]
    found = orthanc.find_studies({"StudyInstanceUID": dataset.StudyInstanceUID})
    assert [item["ID"] for item in found] == [result.study_id]
    assert orthanc.lookup(dataset.StudyInstanceUID)[0]["ID"] == result.study_id


def test_download_is_byte_identical_and_images_render(orthanc, stored):
    _, data, result = stored
    assert orthanc.download_instance(result.instance_id) == data
    png = b"\x89PNG\r\n\x1a\n"
    assert orthanc.preview(result.instance_id).startswith(png)
    assert orthanc.rendered_frame(result.instance_id, 0).startswith(png)


def test_dicomweb_qido_wado_stow(orthanc, stored):
    dataset, _, _ = stored
    studies = orthanc.qido_studies(StudyInstanceUID=dataset.StudyInstanceUID)
    assert studies[0]["0020000D"]["Value"] == [dataset.StudyInstanceUID]
    metadata = orthanc.wado_study_metadata(dataset.StudyInstanceUID)
    assert metadata[0]["00080018"]["Value"] == [dataset.SOPInstanceUID]
    retrieved = orthanc.wado_instance(dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
    assert retrieved.SOPInstanceUID == dataset.SOPInstanceUID and retrieved.PixelData == dataset.PixelData

    ct = fresh_instance("CT_small.dcm")
    response = orthanc.stow([ct])
    assert not response.get("FailedSOPSequence")
    assert response.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ct.SOPInstanceUID
    orthanc.created.append(orthanc.lookup(ct.StudyInstanceUID)[0]["ID"])


def test_not_dicom_is_rejected(orthanc):
    with pytest.raises(ExternalRejected, match="not readable DICOM"):
        orthanc.upload_instance(b"this is not a DICOM file" * 20)


def test_unknown_study_is_not_found(orthanc):
    with pytest.raises(ExternalNotFound):
        orthanc.get_study("00000000-00000000-00000000-00000000-00000000")


def test_wrong_credentials_are_a_configuration_error():
    with pytest.raises(ExternalAuthRefused) as raised:
        OrthancClient(password="wrong").get_study("anything")
    assert raised.value.api_status == 502


def test_truncated_file_is_rejected(orthanc):
    with open(pydicom.data.get_testdata_file("MR_truncated.dcm"), "rb") as handle:
        data = handle.read()
    with pytest.raises(ExternalRejected):
        orthanc.upload_instance(data)


def test_gateway_calls_return_the_clients_errors_and_raise_orthancs_own(orthanc, stored):
    # The DICOMweb gateway passes a client's 4xx through; our credentials refused is the CDSS's failure.
    import io

    dataset, data, _ = stored
    found = orthanc.dicomweb_get(f"studies/{dataset.StudyInstanceUID}/metadata", query="", accept="", forwarded="")
    assert found.status_code == 200 and found.json()[0]["0020000D"]["Value"] == [dataset.StudyInstanceUID]
    unknown = orthanc.dicomweb_get("studies/1.2.3.4.5.6.7.8.9/metadata", query="", accept="", forwarded="")
    assert unknown.status_code == 404
    unknown.close()
    with pytest.raises(ExternalAuthRefused):
        OrthancClient(password="wrong").dicomweb_get("studies", query="", accept="", forwarded="")
    with pytest.raises(ExternalAuthRefused):
        OrthancClient(password="wrong").dicomweb_stow(
            "studies", io.BytesIO(data), length=len(data), content_type="multipart/related", accept="", forwarded=""
        )
