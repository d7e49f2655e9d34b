"""Reconciliation through the API against the real Orthanc: RIB lists studies in RECONCILE or CONFLICT
with candidate EMR patients, links (FHIR sync, timeline, AI allowed again), unlinks and rejects; ADMIN
reads; every step audited."""

import datetime

import pytest

from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from fhir_sync.services import reconcile as fhir_reconcile
from radiology.models import Study
from radiology.testing import series_instances
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db
LIST = "/api/radiology/reconciliation"
JOBS = "/api/ai/jobs"


def _study(client, pacs, **identity) -> Study:
    dataset = series_instances(1, patient_id=identity.pop("patient_id", "UNKNOWN-ID"))[0]
    for name, value in identity.items():
        setattr(dataset, name, value)
    pacs.track(dataset.StudyInstanceUID)
    assert upload(client, as_upload(dataset)).status_code == 201
    return Study.objects.get(study_instance_uid=dataset.StudyInstanceUID)


def _conflict(client, pacs, held: Study, patient_id: str) -> Study:
    dataset = series_instances(1, patient_id=patient_id, study_uid=held.study_instance_uid)[0]
    assert upload(client, as_upload(dataset)).status_code == 201
    return Study.objects.get(study_instance_uid=held.study_instance_uid, conflicting_with=held)


def test_list_and_item_show_the_dicom_identity_and_candidates(rib, token_client, pacs, make_patient):
    by_id = make_patient(mrn="HOSP-778", family_name="Kim", given_name="Minsu")
    by_name_and_birth = make_patient(family_name="Hong", given_name="Gildong", birth_date=datetime.date(1970, 5, 1))
    make_patient(family_name="Hong", given_name="Other")  # matches nothing
    study = _study(rib, pacs, patient_id="HOSP-0778", PatientName="Hong^Gildong", PatientBirthDate="19700501",
                   PatientSex="M", IssuerOfPatientID="SITE-B")  # fmt: skip
    assert study.status == Study.Status.RECONCILE

    page = rib.get(LIST, {"status": "RECONCILE"}).json()
    assert page["count"] == 1 and set(page) == {"count", "next", "previous", "results"}
    [item] = page["results"]
    assert item["id"] == study.pk and item["status"] == "RECONCILE" and "HOSP-0778" in item["reason"]
    identity = {"patient_id": "HOSP-0778", "issuer_of_patient_id": "SITE-B", "patient_name": "Hong^Gildong",
                "birth_date": "1970-05-01", "sex": "M"}  # fmt: skip
    assert item["dicom_identity"] == identity
    assert item["existing_study"] is None and item["number_of_instances"] == 1 and item["source"] == "upload"
    assert item["thumbnail_url"] == f"/api/radiology/studies/{study.pk}/series/{study.series.get().pk}/thumbnail"
    assert rib.get(item["thumbnail_url"]).status_code == 200
    [candidate] = item["candidates"]
    assert candidate == {"id": by_name_and_birth.emr_uuid, "mrn": by_name_and_birth.mrn, "name": "Hong Gildong",
                         "birth_date": "1970-05-01", "sex": "", "matched_on": ["name", "birth_date"]}  # fmt: skip
    assert by_id.emr_uuid not in {c["id"] for c in item["candidates"]}  # a similar number is not a match
    assert rib.get(LIST, {"status": "CONFLICT"}).json()["count"] == 0
    assert rib.get(LIST, {"status": "LINKED"}).status_code == 400

    admin = token_client("ADMIN")
    assert admin.get(f"{LIST}/{study.pk}").json()["candidates"] == item["candidates"]
    read = AuditEvent.objects.filter(resource_type="radiology_reconciliation", actor_id=admin.user.pk)
    assert read.get().action == Action.READ and read.get().detail == {"candidates": [by_name_and_birth.emr_uuid]}
    assert AuditEvent.objects.filter(resource_type="radiology_reconciliation_list", actor_id=rib.user.pk).count() == 2


def test_linking_a_reconcile_study_syncs_fhir_writes_the_timeline_and_allows_ai(rib, doctor, pacs, make_patient):
    patient = make_patient()
    study = _study(rib, pacs, patient_id="TYPO-123")
    refused = doctor.post(JOBS, {"model": "mri-lesion-demo", "study": study.pk}, format="json")
    assert refused.status_code == 400 and "reconcile it first" in str(refused.json())
    url = f"/api/radiology/studies/{study.pk}/link"
    assert rib.post(url, {"patient": patient.emr_uuid}, format="json").status_code == 400  # no comment
    assert rib.post(url, {"patient": patient.emr_uuid, "comment": "  "}, format="json").status_code == 400
    assert rib.post(url, {"patient": "nobody", "comment": "x"}, format="json").status_code == 400
    assert doctor.post(url, {"patient": patient.emr_uuid, "comment": "x"}, format="json").status_code == 403
    # Without its patient the study has no subject for FHIR: neither its arrival nor the periodic
    # reconciliation queues a sync (each would end as a dead letter); linking does.
    fhir_reconcile()
    synced_before = OutboxMessage.objects.filter(payload__args=["radiology.study", study.pk]).count()
    assert synced_before == 0

    linked = rib.post(url, {"patient": patient.emr_uuid, "comment": "PatientID typed wrong at the scanner"},
                      format="json")  # fmt: skip

    assert linked.status_code == 200, linked.content
    body = linked.json()
    assert (body["status"], body["patient"], body["reconciliation_reason"]) == ("LINKED", patient.emr_uuid, "")
    assert len(body["series"]) == 1 and body["series"][0]["instances"]
    event = AuditEvent.objects.get(action=Action.UPDATE, resource_type="radiology_study", resource_id=study.pk)
    assert event.patient_id == patient.emr_uuid and event.actor_id == rib.user.pk
    assert event.detail["reconciliation"] == "link" and event.detail["comment"].startswith("PatientID typed")
    assert OutboxMessage.objects.filter(payload__args=["radiology.study", study.pk]).count() == synced_before + 1
    assert patient.timeline.filter(kind="study", source_id=str(study.pk)).exists()
    allowed = doctor.post(JOBS, {"model": "mri-lesion-demo", "study": study.pk}, format="json")
    assert allowed.status_code == 202, allowed.content
    # linking again is not a transition that exists
    assert rib.post(url, {"patient": patient.emr_uuid, "comment": "again"}, format="json").status_code == 409


def test_unlink_returns_a_study_to_reconciliation(rib, doctor, pacs, make_patient):
    patient = make_patient()
    study = _study(rib, pacs, patient_id=patient.mrn)
    assert study.status == Study.Status.LINKED
    url = f"/api/radiology/studies/{study.pk}/unlink"
    assert rib.post(url, {}, format="json").status_code == 400
    response = rib.post(url, {"comment": "wrong patient: the scanner's worklist was stale"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "RECONCILE" and response.json()["patient"] is None
    study.refresh_from_db()
    assert "wrong patient" in study.reconciliation_reason
    [entry] = patient.timeline.filter(kind="study", source_id=str(study.pk))
    assert entry.title.startswith("Imaging study unlinked from this patient")
    event = AuditEvent.objects.get(action=Action.UPDATE, resource_type="radiology_study", resource_id=study.pk)
    assert event.patient_id == patient.emr_uuid and event.detail["reconciliation"] == "unlink"
    assert doctor.post(JOBS, {"model": "mri-lesion-demo", "study": study.pk}, format="json").status_code == 400
    assert rib.post(url, {"comment": "again"}, format="json").status_code == 409  # RECONCILE cannot be unlinked


def test_a_conflict_is_refused_by_ai_and_linked_to_the_patient_its_images_belong_to(rib, doctor, pacs, make_patient):
    first, second = make_patient(), make_patient()
    held = _study(rib, pacs, patient_id=first.mrn)
    conflict = _conflict(rib, pacs, held, second.mrn)
    assert doctor.post(JOBS, {"model": "mri-lesion-demo", "study": conflict.pk}, format="json").status_code == 400
    [item] = rib.get(LIST, {"status": "CONFLICT"}).json()["results"]
    assert item["existing_study"] == {"id": held.pk, "patient": {"id": first.emr_uuid, "mrn": first.mrn,
                                      "name": "Test Patient", "birth_date": None}}  # fmt: skip
    assert [c["id"] for c in item["candidates"] if "patient_id" in c["matched_on"]] == [second.emr_uuid]

    response = rib.post(f"/api/radiology/studies/{conflict.pk}/link",
                        {"patient": second.emr_uuid, "comment": "re-sent after the PatientID was corrected"},
                        format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    conflict.refresh_from_db()
    held.refresh_from_db()
    assert (conflict.status, conflict.patient, conflict.series.count()) == (Study.Status.LINKED, second, 1)
    assert (held.status, held.patient, held.series.count()) == (Study.Status.LINKED, first, 1)
    assert doctor.post(JOBS, {"model": "mri-lesion-demo", "study": conflict.pk}, format="json").status_code == 202
    assert rib.get(LIST).json()["count"] == 0


def test_rejecting_a_conflict_deletes_its_images_only(rib, token_client, pacs, make_patient):
    first = make_patient()
    held = _study(rib, pacs, patient_id=first.mrn)
    conflict = _conflict(rib, pacs, held, "SOMEONE-ELSE")
    url = f"/api/radiology/studies/{conflict.pk}/reject"
    assert token_client("ADMIN").post(url, {"comment": "x"}, format="json").status_code == 403
    assert rib.post(f"/api/radiology/studies/{held.pk}/reject", {"comment": "x"}, format="json").status_code == 409
    assert rib.post(url, {}, format="json").status_code == 400

    response = rib.post(url, {"comment": "images of another patient sent by mistake"}, format="json")

    assert response.status_code == 204
    assert not Study.objects.filter(pk=conflict.pk).exists()
    orthanc_ids = {item["ID"] for item in pacs.client.lookup(held.study_instance_uid) if item["Type"] == "Study"}
    assert orthanc_ids == {held.orthanc_id}
    held.refresh_from_db()
    assert held.patient == first and held.series.count() == 1
    event = AuditEvent.objects.get(action=Action.DELETE, resource_type="radiology_study", resource_id=conflict.pk)
    assert event.patient_id == first.emr_uuid and event.detail["comment"].startswith("images of another")


def test_studies_list_filters_conflicts(rib, nurse, pacs, make_patient):
    held = _study(rib, pacs, patient_id=make_patient().mrn)
    conflict = _conflict(rib, pacs, held, "ANOTHER")
    rows = nurse.get("/api/radiology/studies", {"status": "CONFLICT"}).json()["results"]
    assert [(row["id"], row["conflicting_with"]) for row in rows] == [(conflict.pk, held.pk)]
    assert nurse.get(LIST).status_code == 403
