"""Sign-off by radiologists (issue #17 item 2): radiographers refused, the worklist (content, order, audit),
the notification to radiologists when a result arrives, and the amendment of a final result, which keeps
the previous version and reaches the HAPI stand-in as an `amended` DiagnosticReport with a new version."""

from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from ai.models import AIResult, AIResultRevision
from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from fhir_sync.tasks import sync_entity
from radiology.services import order_create

from .factories import complete, make_job, make_patient, make_study

pytestmark = pytest.mark.django_db


def _review(client, result: AIResult, **body):
    return client.post(f"/api/ai/results/{result.pk}/review", body, format="json")


def _amend(client, result: AIResult, **body):
    return client.post(f"/api/ai/results/{result.pk}/amend", body, format="json")


def _signed(doctor, radiologist) -> AIResult:
    result = complete(make_job(doctor.user)).result
    assert _review(radiologist, result, decision="approve", comment="Agree.").status_code == 200
    result.refresh_from_db()
    return result


def test_a_radiographer_is_refused_sign_off_and_the_refusal_is_audited(doctor, rib, radiologist):
    result = complete(make_job(doctor.user)).result
    denials = AuditEvent.objects.filter(action=Action.PERMISSION_DENIED, actor_id=rib.user.pk)

    for decision in ("approve", "reject"):
        refused = _review(rib, result, decision=decision, comment="I took the images.")
        assert refused.status_code == 403 and refused.json()["detail"] == "Only radiologists may sign off AI results."
    assert denials.count() == 2 and denials.first().status_code == 403
    korean = rib.post(f"/api/ai/results/{result.pk}/review", {"decision": "approve", "comment": "x"},
                      format="json", HTTP_ACCEPT_LANGUAGE="ko")  # fmt: skip
    assert korean.json()["detail"] == "영상의학과 전문의만 AI 결과를 판독 승인할 수 있습니다."
    assert _amend(rib, result, reason="typo", summary="x").status_code == 403
    assert rib.get("/api/ai/worklist").status_code == 403
    result.refresh_from_db()
    assert result.status == AIResult.Status.PRELIMINARY and result.reviewed_by is None

    approved = _review(radiologist, result, decision="approve", comment="Agree: one lesion.")
    assert approved.status_code == 200 and approved.json()["status"] == "FINAL"
    assert AIResult.objects.signed().filter(pk=result.pk).exists()


def test_the_service_refuses_a_radiographer_too(doctor, rib):
    from ai import services
    from core.errors import NotPermitted

    result = complete(make_job(doctor.user)).result
    with pytest.raises(NotPermitted):
        services.result_review(actor=rib.user, result=result, decision="approve", comment="x")


def test_radiologists_are_notified_when_a_result_arrives(doctor, rib, radiologist, make_user, pushed):
    inactive = make_user("RIB", "RADIOLOGIST", is_active=False)
    patient = make_patient()
    study = make_study(patient)
    _order(study, doctor.user, "STAT")
    job = complete(make_job(doctor.user, study=study))
    [(recipients, payload)] = [(users, p) for users, p in pushed if p["type"] == "ai.result.awaiting_sign_off"]
    assert radiologist.user.pk in recipients
    assert rib.user.pk not in recipients and doctor.user.pk not in recipients and inactive.pk not in recipients
    assert payload == {
        "type": "ai.result.awaiting_sign_off",
        "job_id": str(job.pk),
        "result_id": job.result.pk,
        "model": "mri-lesion-demo",
        "priority": "STAT",
        "second_read": False,
    }


def _order(study, doctor, priority: str) -> None:
    study.order = order_create(
        actor=doctor, patient=study.patient, modality="MR", body_part="brain", reason="follow-up", priority=priority
    )
    study.save(update_fields=("order",))


def _result_with_order(doctor, priority: str | None, age_minutes: int) -> AIResult:
    patient = make_patient()
    study = make_study(patient)
    if priority:
        _order(study, doctor.user, priority)
    result = complete(make_job(doctor.user, study=study)).result
    AIResult.objects.filter(pk=result.pk).update(created_at=timezone.now() - timedelta(minutes=age_minutes))
    return result


def test_the_worklist_lists_results_awaiting_sign_off_by_priority_then_age(doctor, radiologist):
    routine_old = _result_with_order(doctor, "ROUTINE", 300)
    unordered = _result_with_order(doctor, None, 200)  # no order: routine
    urgent = _result_with_order(doctor, "URGENT", 10)
    stat_new = _result_with_order(doctor, "STAT", 1)
    stat_old = _result_with_order(doctor, "STAT", 60)
    signed = _result_with_order(doctor, "STAT", 500)
    assert _review(radiologist, signed, decision="approve", comment="done").status_code == 200

    response = radiologist.get("/api/ai/worklist")

    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["result_id"] for row in rows] == [
        stat_old.pk,
        stat_new.pk,
        urgent.pk,
        routine_old.pk,
        unordered.pk,
    ]
    assert [row["priority"] for row in rows] == ["STAT", "STAT", "URGENT", "ROUTINE", "ROUTINE"]
    first = rows[0]
    assert first["model_name"] == "mri-lesion-demo" and first["model_version"] == "1.0.0"
    assert first["patient"] == stat_old.job.patient.emr_uuid and first["patient_name"] == "Test Patient"
    assert first["job_id"] == str(stat_old.job_id) and first["accession_number"]
    assert 3500 < first["age_seconds"] < 3700
    assert rows[-1]["accession_number"] is None
    read = AuditEvent.objects.filter(action=Action.READ, resource_type="ai_sign_off_worklist")
    assert read.count() == 1 and read.first().actor_id == radiologist.user.pk


def test_amendment_needs_a_reason_a_change_and_a_final_result(doctor, radiologist):
    preliminary = complete(make_job(doctor.user)).result
    assert _amend(radiologist, preliminary, reason="typo", summary="new").status_code == 409
    result = _signed(doctor, radiologist)
    assert "reason" in _amend(radiologist, result, summary="new").json()["fields"]
    assert "reason" in _amend(radiologist, result, reason="  ", summary="new").json()["fields"]
    assert _amend(radiologist, result, reason="typo").status_code == 400  # nothing to change
    assert _amend(radiologist, result, reason="typo", summary=result.summary).status_code == 400  # the same
    result.refresh_from_db()
    assert result.version == 1 and not result.revisions.exists()


def test_an_amendment_keeps_the_previous_version(doctor, radiologist, token_client):
    result = _signed(doctor, radiologist)
    response = _amend(radiologist, result, reason="Second lesion is a vessel.", summary="1 lesion, 10.1 mL")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["version"], body["report_status"]) == ("FINAL", 2, "amended")
    assert body["amended_by"] == radiologist.user.username and body["amendment_reason"] == "Second lesion is a vessel."
    assert [(r["version"], r["summary"], r["review_comment"]) for r in body["revisions"]] == [
        (1, "2 lesions, 12.5 mL in total", "Agree.")
    ]

    other = token_client("RIB", "RADIOLOGIST")  # another radiologist amends again
    again = _amend(other, result, reason="Comment clarified.", review_comment="Agree; see amendment.")
    assert again.status_code == 200 and again.json()["version"] == 3
    result.refresh_from_db()
    assert result.is_signed and result.summary == "1 lesion, 10.1 mL"
    assert result.review_comment == "Agree; see amendment."
    versions = list(AIResultRevision.objects.filter(result=result).order_by("version"))
    assert [(v.version, v.summary, v.amendment_reason) for v in versions] == [
        (1, "2 lesions, 12.5 mL in total", ""),
        (2, "1 lesion, 10.1 mL", "Second lesion is a vessel."),
    ]
    assert AIResult.objects.signed().filter(pk=result.pk).count() == 1  # still one signed result
    amended = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_result", detail__amend=True)
    assert amended.count() == 2
    shown = doctor.get(f"/api/ai/jobs/{result.job_id}").json()["result"]
    assert [r["version"] for r in shown["revisions"]] == [2, 1]


def _run_queued_syncs(since: set) -> dict:
    """Every fhir_sync.sync_entity the outbox holds since `since`, run by the real Celery task (in this
    process, as a worker would run it)."""
    queued = OutboxMessage.objects.exclude(pk__in=since).filter(target="fhir_sync.sync_entity").order_by("created_at")
    return {tuple(m.payload["args"]): sync_entity.apply(args=m.payload["args"]).get() for m in queued}


def _fhir_get(path: str, **params) -> dict:
    answer = requests.get(
        f"{settings.FHIR_BASE_URL}/{path}",
        params=params,
        headers={"Cache-Control": "no-cache", "Accept": "application/fhir+json"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def test_an_amendment_reaches_fhir_as_an_amended_report_with_a_new_version(fhir, doctor, radiologist):
    from fhir_sync.identifiers import SYSTEMS
    from fhir_sync.models import FhirMapping
    from fhir_sync.tests.r4 import valid_r4

    result = complete(make_job(doctor.user)).result
    assert _review(radiologist, result, decision="approve", comment="Agree.").status_code == 200
    _run_queued_syncs(set())  # on arrival and after the sign-off
    mapping = FhirMapping.objects.get(entity_type="ai.result", entity_id=str(result.pk))
    final = _fhir_get(mapping.reference)
    assert final["status"] == "final"
    final_version = final["meta"]["versionId"]

    already = set(OutboxMessage.objects.values_list("pk", flat=True))
    amended_response = _amend(radiologist, result, reason="Volume re-measured.", summary="2 lesions, 11.0 mL")
    assert amended_response.status_code == 200
    outcomes = _run_queued_syncs(already)
    assert outcomes == {("ai.result", result.pk): "updated"}

    [entry] = _fhir_get("DiagnosticReport", identifier=f"{SYSTEMS['DiagnosticReport']}|{result.pk}")["entry"]
    report = entry["resource"]
    assert report["status"] == "amended"
    valid_r4(report)  # the R4 structure definitions, as the FHIR server holds it
    assert report["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "18748-4",
        "display": "Diagnostic imaging study",
    }
    assert int(report["meta"]["versionId"]) == int(final_version) + 1
    assert "Amended (version 2): Volume re-measured." in report["conclusion"]
    assert "2 lesions, 11.0 mL" in report["conclusion"]
    previous = _fhir_get(f"{mapping.reference}/_history/{final_version}")
    assert previous["status"] == "final" and "2 lesions, 12.5 mL" in previous["conclusion"]
