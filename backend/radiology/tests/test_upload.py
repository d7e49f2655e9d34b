"""The DICOM upload against the real Orthanc: files and zips, idempotent re-upload, patient/order
matching, audit and the FHIR sync request, RBAC."""

import io
import zipfile

import pytest

from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from radiology.models import Order, Study
from radiology.services import order_create
from radiology.testing import series_instances, to_bytes
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db


def test_files_are_stored_matched_to_the_patient_and_order(rib, doctor, pacs, make_patient):
    patient = make_patient()
    order = order_create(actor=doctor.user, patient=patient, modality="MR", body_part="BRAIN", reason="glioma")
    t1 = series_instances(3, description="AX T1 MPRAGE POST GAD", patient_id=patient.mrn,
                          accession_number=order.accession_number)  # fmt: skip
    study_uid = t1[0].StudyInstanceUID
    flair = series_instances(2, description="AX FLAIR", patient_id=patient.mrn, study_uid=study_uid, series_number=2,
                             accession_number=order.accession_number)  # fmt: skip
    pacs.track(study_uid)

    response = upload(rib, *(as_upload(ds) for ds in t1 + flair))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"] == {"stored": 5, "already_stored": 0, "rejected": 0}
    study = Study.objects.get(study_instance_uid=study_uid)
    assert pacs.study_id(study_uid) == study.orthanc_id
    assert (study.patient, study.order, study.status) == (patient, order, Study.Status.LINKED)
    assert (study.number_of_series, study.number_of_instances, study.modality) == (2, 5, "MR")
    assert {(s.sequence_type, s.number_of_instances) for s in study.series.all()} == {("T1c", 3), ("FLAIR", 2)}
    audited = AuditEvent.objects.get(action=Action.CREATE, resource_type="radiology_study", resource_id=str(study.pk))
    assert audited.patient_id == patient.emr_uuid and audited.actor_id == rib.user.pk
    assert OutboxMessage.objects.filter(target="fhir_sync.sync_entity", payload__args=["radiology.study", study.pk])
    assert patient.timeline.filter(kind="study", source_id=str(study.pk)).exists()
    # each store is one audited call (test_bad_input relies on this endpoint name to prove nothing was sent)
    assert AuditEvent.objects.filter(action=Action.EXTERNAL_CALL, endpoint="POST /instances").count() == 5


def test_zip_upload_and_idempotent_reupload(rib, pacs):
    datasets = series_instances(4, description="T2 TSE")
    pacs.track(datasets[0].StudyInstanceUID)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for index, dataset in enumerate(datasets):
            zf.writestr(f"DICOM/IM{index:04d}", to_bytes(dataset))
    payload = archive.getvalue()

    def send():
        from django.core.files.uploadedfile import SimpleUploadedFile

        return upload(rib, SimpleUploadedFile("series.zip", payload, "application/zip"))

    first = send()
    assert first.status_code == 201, first.content
    assert [r["status"] for r in first.json()["results"]] == ["stored"] * 4
    again = send()
    assert again.status_code == 200
    assert again.json()["counts"] == {"stored": 0, "already_stored": 4, "rejected": 0}
    study = Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
    assert study.number_of_instances == 4 and study.series.get().sequence_type == "T2"
    assert Study.objects.filter(study_instance_uid=datasets[0].StudyInstanceUID).count() == 1


def test_unknown_patient_is_flagged_for_reconciliation_not_guessed(rib, pacs, make_patient):
    make_patient(mrn="SOMEONE-ELSE")
    dataset = series_instances(1, patient_id="NOT-IN-EMR")[0]
    pacs.track(dataset.StudyInstanceUID)
    assert upload(rib, as_upload(dataset)).status_code == 201
    study = Study.objects.get(study_instance_uid=dataset.StudyInstanceUID)
    assert study.patient is None and study.status == Study.Status.RECONCILE
    assert "NOT-IN-EMR" in study.reconciliation_reason


def test_good_and_bad_files_in_one_request_are_reported_each(rib, pacs):
    good = series_instances(1)[0]
    pacs.track(good.StudyInstanceUID)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = upload(rib, as_upload(good, "good.dcm"), SimpleUploadedFile("bad.dcm", b"\x00" * 50))
    assert response.status_code == 201
    results = {r["file"]: r for r in response.json()["results"]}
    assert results["good.dcm"]["status"] == "stored"
    assert results["bad.dcm"]["status"] == "rejected" and results["bad.dcm"]["reason"]


def test_nurse_cannot_upload(nurse, pacs):
    dataset = series_instances(1)[0]
    response = upload(nurse, as_upload(dataset))
    assert response.status_code == 403
    assert pacs.study_id(dataset.StudyInstanceUID) is None
    assert not Study.objects.exists()


def test_order_lifecycle_allows_only_its_transitions(doctor, rib, nurse, make_patient):
    patient = make_patient()
    created = doctor.post(
        "/api/radiology/orders",
        {
            "patient": patient.emr_uuid,
            "modality": "MR",
            "body_part": "BRAIN",
            "reason": "headache",
            "priority": "URGENT",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["accession_number"].startswith("CDSS") and order["status"] == "REQUESTED"
    url = f"/api/radiology/orders/{order['id']}/transition"
    assert doctor.post(url, {"status": "SCHEDULED"}, format="json").status_code == 403
    assert rib.post(url, {"status": "COMPLETED"}, format="json").status_code == 409
    for step in ("SCHEDULED", "IN_PROGRESS", "COMPLETED"):
        moved = rib.post(url, {"status": step}, format="json")
        assert moved.status_code == 200 and moved.json()["status"] == step
    assert rib.post(url, {"status": "CANCELLED"}, format="json").status_code == 409
    assert nurse.post(url, {"status": "CANCELLED"}, format="json").status_code == 403
    assert Order.objects.get(pk=order["id"]).status == "COMPLETED"
    assert AuditEvent.objects.filter(resource_type="radiology_order", patient_id=patient.emr_uuid).count() >= 4
    assert OutboxMessage.objects.filter(payload__args=["radiology.order", order["id"]]).count() == 4
    assert patient.timeline.filter(kind="order").count() == 1
    listed = nurse.get("/api/radiology/orders", {"patient": patient.emr_uuid}).json()
    assert [row["id"] for row in listed["results"]] == [order["id"]]


def test_only_the_ordering_doctor_or_radiology_staff_cancel(doctor, token_client, rib, make_patient):
    patient = make_patient()
    mine = order_create(actor=doctor.user, patient=patient, modality="MR", body_part="BRAIN", reason="a")
    other = order_create(actor=doctor.user, patient=patient, modality="CT", body_part="HEAD", reason="b")
    colleague = token_client("DOCTOR")

    def cancel(client, order):
        return client.post(f"/api/radiology/orders/{order.pk}/transition", {"status": "CANCELLED"}, format="json")

    refused = cancel(colleague, mine)
    assert refused.status_code == 403 and "who ordered it" in refused.json()["detail"]
    assert Order.objects.get(pk=mine.pk).status == "REQUESTED"
    assert cancel(doctor, mine).status_code == 200
    assert cancel(rib, other).status_code == 200
    assert Order.objects.get(pk=other.pk).status == "CANCELLED"


def test_files_past_the_count_limit_are_reported_not_read(rib, pacs, settings):
    """Parts are stored as they arrive, so the limit cannot refuse the whole request: the files within it
    are stored, the rest of the request is reported as rejected and never reaches Orthanc."""
    settings.RADIOLOGY_UPLOAD_MAX_FILES = 2
    datasets = series_instances(3)
    pacs.track(datasets[0].StudyInstanceUID)
    response = upload(rib, *(as_upload(ds, f"{n}.dcm") for n, ds in enumerate(datasets)))
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [(r["file"], r["status"]) for r in results[:2]] == [("0.dcm", "stored"), ("1.dcm", "stored")]
    assert results[2]["code"] == "too_many_files" and "RADIOLOGY_UPLOAD_MAX_FILES" in results[2]["reason"]
    assert Study.objects.get().series.get().number_of_instances == 2


def test_each_part_reaches_the_sink_while_the_body_is_still_being_read():
    """What lets checking and storing overlap with receiving: the handler hands a part over as soon as
    the parser has seen its end, long before the last byte of a large request is read."""
    from django.http.multipartparser import MultiPartParser

    from radiology.ingest.body import DicomUploadHandler

    boundary = "sink-test"
    parts = [to_bytes(ds) for ds in series_instances(4, size=1024)]  # 2 MB each: several parser blocks
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{n}.dcm"\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for n, data in enumerate(parts)
        )
        + f"--{boundary}--\r\n".encode()
    )
    stream = io.BytesIO(body)
    handed_over = []
    handler = DicomUploadHandler(sink=lambda part: handed_over.append((part.name, part.size, stream.tell())))
    meta = {"CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": str(len(body))}
    MultiPartParser(meta, stream, [handler]).parse()
    assert [(name, size) for name, size, _ in handed_over] == [(f"{n}.dcm", len(p)) for n, p in enumerate(parts)]
    assert handed_over[0][2] < len(body) / 2  # the first part went on with most of the body still unread


@pytest.fixture
def browser_rib(make_user):
    """A RIB signed in through the session, CSRF checks on, as the web UI is."""
    from django.conf import settings
    from rest_framework.test import APIClient

    make_user("RIB", username="rib-browser")
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    login = {"username": "rib-browser", "password": "correct-horse-battery-9"}
    assert client.post("/api/auth/login", login, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 200
    return client, client.cookies[settings.CSRF_COOKIE_NAME].value


@pytest.fixture
def sink_seen(monkeypatch):
    """For each part, whether the role check had run when the parser finished it (the view parses)."""
    from radiology.api.views import UploadView
    from radiology.ingest.body import DicomUploadHandler

    seen: list[bool] = []
    checked: list[bool] = []
    file_complete, check_permissions = DicomUploadHandler.file_complete, UploadView.check_permissions

    def recording(self, file_size):
        seen.append(bool(checked))
        return file_complete(self, file_size)

    def checking(self, request):
        check_permissions(self, request)
        checked.append(True)

    monkeypatch.setattr(DicomUploadHandler, "file_complete", recording)
    monkeypatch.setattr(UploadView, "check_permissions", checking)
    return seen


def test_a_browser_upload_with_the_csrf_header_is_stored_as_it_arrives(browser_rib, pacs, sink_seen):
    client, csrf = browser_rib
    datasets = series_instances(2)
    pacs.track(datasets[0].StudyInstanceUID)
    response = upload(client, *(as_upload(ds) for ds in datasets), HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content
    assert sink_seen == [True, True]  # the body was parsed after the role check, part by part into the ingest


def test_a_browser_upload_with_the_token_only_in_the_form_is_refused_unread(browser_rib, pacs, sink_seen):
    """The body is never read before the role check, so the CSRF check sees no form token: the header it is."""
    client, csrf = browser_rib
    dataset = series_instances(1)[0]
    pacs.track(dataset.StudyInstanceUID)
    response = client.post("/api/radiology/uploads", {"files": [as_upload(dataset)], "csrfmiddlewaretoken": csrf})
    assert response.status_code == 403, response.content
    assert sink_seen == [] and pacs.study_id(dataset.StudyInstanceUID) is None


def test_a_browser_upload_without_a_valid_csrf_token_stores_nothing(browser_rib, pacs):
    client, _ = browser_rib
    dataset = series_instances(1)[0]
    response = upload(client, as_upload(dataset), HTTP_X_CSRFTOKEN="not-the-token-" + "x" * 50)
    assert response.status_code == 403
    assert pacs.study_id(dataset.StudyInstanceUID) is None and not Study.objects.exists()
