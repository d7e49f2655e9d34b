"""The DICOMweb gateway: QIDO-RS and WADO-RS through Django equal Orthanc's own answers byte for byte
(multipart answers up to their random boundary), one audit event per study, STOW-RS for RIB only."""

import json
import re

import pytest
from dicomweb_client.api import DICOMwebClient
from django.conf import settings

from audit.models import Action, AuditEvent
from radiology.models import Study
from radiology.testing import fresh_instance, series_instances, to_bytes
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db
GATEWAY = "/api/radiology/dicom-web"


@pytest.fixture
def study(rib, pacs, make_patient):
    patient = make_patient()
    datasets = series_instances(2, description="AX T1", patient_id=patient.mrn)
    pacs.track(datasets[0].StudyInstanceUID)
    assert upload(rib, *(as_upload(ds) for ds in datasets)).status_code == 201
    return datasets, patient


def _direct(pacs, path: str, accept: str):
    """Orthanc's own answer, asked as the gateway asks for the test client (host testserver, http)."""
    return pacs.client.http.request(
        "GET", f"{settings.ORTHANC_DICOMWEB_ROOT}/{path}", resource_type="test",
        headers={"Accept": accept, "Forwarded": "host=testserver;proto=http"},
    )  # fmt: skip


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _unbound(body: bytes, content_type: str) -> bytes:
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    return body.replace(boundary.group(1).encode(), b"BOUNDARY") if boundary else body


def test_qido_and_wado_equal_orthancs_own_answers(doctor, pacs, study):
    datasets, patient = study
    first = datasets[0]
    study_uid, series_uid, sop_uid = first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID
    instance = f"studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
    cases = [
        (f"studies?StudyInstanceUID={study_uid}&includefield=all", "application/dicom+json"),
        (f"studies/{study_uid}/series", "application/dicom+json"),
        (f"studies/{study_uid}/series/{series_uid}/instances", "application/dicom+json"),
        (f"studies/{study_uid}/metadata", "application/dicom+json"),
        (f"{instance}/metadata", "application/dicom+json"),
        (instance, 'multipart/related; type="application/dicom"'),
        (f"{instance}/frames/1", 'multipart/related; type="application/octet-stream"'),
        (f"{instance}/rendered", "image/png"),
        (f"{instance}/bulk/7fe00010", 'multipart/related; type="application/octet-stream"'),
    ]
    for path, accept in cases:
        through = doctor.get(f"{GATEWAY}/{path}", HTTP_ACCEPT=accept)
        direct = _direct(pacs, path, accept)
        assert through.status_code == direct.status_code == 200, (path, through.content[:300])
        assert _unbound(through["Content-Type"].encode(), through["Content-Type"]) == _unbound(
            direct.headers["Content-Type"].encode(), direct.headers["Content-Type"]
        ), path
        if through["Content-Type"].startswith("multipart/"):
            assert through.streaming, path
            assert _unbound(_body(through), through["Content-Type"]) == _unbound(
                direct.content, direct.headers["Content-Type"]
            )
        else:
            assert _body(through) == direct.content, path
    reads = AuditEvent.objects.filter(action=Action.READ, resource_type="dicom_study", actor_id=doctor.user.pk)
    assert reads.count() == len(cases)  # one event per request, each naming the one study it touched
    assert set(reads.values_list("resource_id", "patient_id")) == {(study_uid, patient.emr_uuid)}


def test_urls_inside_answers_name_the_gateway_and_work(doctor, study):
    """RetrieveURL and BulkDataURI, which viewers follow, point at the gateway (never at Orthanc)."""
    datasets, _ = study
    first = datasets[0]
    series = doctor.get(f"{GATEWAY}/studies/{first.StudyInstanceUID}/series", HTTP_ACCEPT="application/dicom+json")
    retrieve_url = series.json()[0]["00081190"]["Value"][0]
    assert retrieve_url.startswith(f"http://testserver{GATEWAY}/studies/{first.StudyInstanceUID}/series/")
    metadata = doctor.get(f"{GATEWAY}/studies/{first.StudyInstanceUID}/metadata", HTTP_ACCEPT="application/dicom+json")
    bulk_uri = json.loads(_body(metadata))[0]["7FE00010"]["BulkDataURI"]
    assert bulk_uri.startswith(f"http://testserver{GATEWAY}/studies/{first.StudyInstanceUID}/series/")
    pixels = doctor.get(
        bulk_uri.removeprefix("http://testserver"), HTTP_ACCEPT='multipart/related; type="application/octet-stream"'
    )
    assert pixels.status_code == 200 and pixels.streaming


def test_a_standard_client_works_through_the_gateway(live_server_dicomweb, study):
    datasets, _ = study
    client = live_server_dicomweb
    found = client.search_for_studies(search_filters={"StudyInstanceUID": datasets[0].StudyInstanceUID})
    assert found[0]["0020000D"]["Value"] == [datasets[0].StudyInstanceUID]
    retrieved = client.retrieve_instance(datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID,
                                         datasets[0].SOPInstanceUID)  # fmt: skip
    assert retrieved.PixelData == datasets[0].PixelData
    metadata = client.retrieve_instance_metadata(datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID,
                                                 datasets[0].SOPInstanceUID)  # fmt: skip
    bulk_uri = metadata["7FE00010"]["BulkDataURI"]  # a viewer's way to the pixels (Orthanc serves octet-stream)
    (pixels,) = client.retrieve_bulkdata(bulk_uri, media_types=("application/octet-stream",))
    assert pixels == datasets[0].PixelData


@pytest.fixture
def live_server_dicomweb(doctor):
    """dicomweb-client speaking to the gateway through Django's test client (no socket)."""
    import requests

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            response = doctor.get(request.path_url, HTTP_ACCEPT=request.headers.get("Accept", ""))
            result = requests.Response()
            result.status_code = response.status_code
            result.headers = requests.structures.CaseInsensitiveDict(dict(response.items()))
            result._content = _body(response)
            result.url = request.url
            result.request = request
            return result

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://testserver", Adapter())
    return DICOMwebClient(url=f"http://testserver{GATEWAY}", session=session)


def test_qido_search_audits_each_study_found(nurse, pacs, make_patient):
    accession = "QIDO-AUDIT"
    uids = []
    for _ in range(2):
        dataset = fresh_instance()
        dataset.AccessionNumber = accession
        pacs.track(dataset.StudyInstanceUID)
        pacs.client.upload_instance(to_bytes(dataset))
        uids.append(dataset.StudyInstanceUID)
    response = nurse.get(f"{GATEWAY}/studies", {"AccessionNumber": accession}, HTTP_ACCEPT="application/dicom+json")
    assert response.status_code == 200
    audited = AuditEvent.objects.filter(action=Action.READ, resource_type="dicom_study", actor_id=nurse.user.pk)
    assert set(audited.values_list("resource_id", flat=True)) >= set(uids)


def test_unknown_study_and_bad_paths(doctor):
    assert doctor.get(f"{GATEWAY}/studies/1.2.3.4.5.6.999/metadata").status_code == 404
    assert doctor.get(f"{GATEWAY}/tools/find").status_code == 404
    assert doctor.get(f"{GATEWAY}/studies/../../system").status_code == 404


def _multipart(*datasets) -> tuple[bytes, str]:
    boundary = "cdss-test-boundary"
    body = b""
    for dataset in datasets:
        body += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + to_bytes(dataset) + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def test_stow_for_radiology_staff_only(rib, doctor, pacs):
    dataset = fresh_instance("CT_small.dcm")
    pacs.track(dataset.StudyInstanceUID)
    body, content_type = _multipart(dataset)
    denied = doctor.generic("POST", f"{GATEWAY}/studies", body, content_type=content_type)
    assert denied.status_code == 403 and pacs.study_id(dataset.StudyInstanceUID) is None
    stored = rib.generic("POST", f"{GATEWAY}/studies", body, content_type=content_type,
                         HTTP_ACCEPT="application/dicom+json")  # fmt: skip
    assert stored.status_code == 200, stored.content[:500]
    assert pacs.study_id(dataset.StudyInstanceUID)
    row = Study.objects.get(study_instance_uid=dataset.StudyInstanceUID)
    assert row.source == "stow" and row.number_of_instances == 1
