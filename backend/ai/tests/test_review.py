"""Sign-off of a result by a radiologist (PRELIMINARY -> FINAL / CANCELLED with a comment), and the FHIR
DiagnosticReport with its Observations on the HAPI stand-in: preliminary first, then final or cancelled.
Radiographers (RIB without RADIOLOGIST) cannot sign off: test_sign_off.py."""

import pytest
import requests
from django.conf import settings

from ai.models import AIResult
from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from fhir_sync import services as fhir_sync
from fhir_sync.identifiers import SYSTEMS

from .factories import complete, make_job

pytestmark = pytest.mark.django_db


def _review(client, result: AIResult, **body):
    return client.post(f"/api/ai/results/{result.pk}/review", body, format="json")


def test_approve_makes_the_result_final(doctor, radiologist, pushed):
    job = complete(make_job(doctor.user))
    result = job.result
    response = _review(radiologist, result, decision="approve", comment="Agree: two enhancing lesions.")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "FINAL" and body["reviewed_by"] == radiologist.user.username
    result.refresh_from_db()
    assert (result.status, result.review_comment, result.reviewed_by_id) == (
        "FINAL",
        "Agree: two enhancing lesions.",
        radiologist.user.pk,
    )
    assert "Radiology review: approved: Agree" in result.conclusion
    syncs = OutboxMessage.objects.filter(target="fhir_sync.sync_entity", payload__args=["ai.result", result.pk])
    assert syncs.count() == 2  # on arrival, and after the review (with its Observations)
    observations = OutboxMessage.objects.filter(target="fhir_sync.sync_entity", payload__args__0="ai.observation")
    assert sorted(m.payload["args"][1] for m in observations) == [
        f"{result.pk}:lesion_count",
        f"{result.pk}:lesion_volume_ml",
    ]
    review = AuditEvent.objects.get(action=Action.UPDATE, resource_type="ai_result", resource_id=str(result.pk))
    assert (
        review.detail["review"] == "approve"
        and review.detail["to"] == "FINAL"
        and review.actor_id == radiologist.user.pk
    )
    assert pushed[-1] == (
        [doctor.user.pk],
        {"type": "ai.result.reviewed", "job_id": str(job.pk), "result_id": result.pk, "status": "FINAL"},
    )

    again = _review(radiologist, result, decision="reject", comment="changed my mind")
    assert again.status_code == 409 and "reviewed already" in again.json()["detail"]


def test_reject_cancels_it(doctor, radiologist):
    result = complete(make_job(doctor.user)).result
    response = _review(radiologist, result, decision="reject", comment="Artefact, not a lesion.")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"


def test_review_needs_a_radiologist_a_decision_and_a_comment(doctor, rib, radiologist, nurse):
    result = complete(make_job(doctor.user)).result
    assert _review(doctor, result, decision="approve", comment="fine").status_code == 403
    assert _review(nurse, result, decision="approve", comment="fine").status_code == 403
    assert _review(rib, result, decision="approve", comment="fine").status_code == 403  # a radiographer
    assert "comment" in _review(radiologist, result, decision="approve").json()["fields"]
    assert "comment" in _review(radiologist, result, decision="approve", comment="   ").json()["fields"]
    assert "decision" in _review(radiologist, result, decision="maybe", comment="x").json()["fields"]
    assert (
        radiologist.post("/api/ai/results/999999999/review", {"decision": "approve", "comment": "x"}).status_code == 404
    )
    result.refresh_from_db()
    assert result.status == "PRELIMINARY" and result.reviewed_at is None


def _report(result: AIResult) -> dict:
    answer = requests.get(
        f"{settings.FHIR_BASE_URL}/DiagnosticReport",
        params={"identifier": f"{SYSTEMS['DiagnosticReport']}|{result.pk}"},
        headers={"Cache-Control": "no-cache", "Accept": "application/fhir+json"},
        timeout=10,
    )
    answer.raise_for_status()
    [entry] = answer.json()["entry"]
    return entry["resource"]


def _observation_statuses(report: dict) -> set[str]:
    statuses = set()
    for ref in report["result"]:
        answer = requests.get(
            f"{settings.FHIR_BASE_URL}/{ref['reference']}", timeout=10, headers={"Accept": "application/fhir+json"}
        )
        answer.raise_for_status()
        statuses.add(answer.json()["status"])
    return statuses


@pytest.mark.parametrize(("decision", "fhir_status"), [("approve", "final"), ("reject", "cancelled")])
def test_the_diagnostic_report_goes_preliminary_then_final_or_cancelled(
    fhir, doctor, radiologist, decision, fhir_status
):
    result = complete(make_job(doctor.user)).result
    first = fhir_sync.sync_entity_now("ai.result", result.pk)
    assert first.outcome == "created" and first.reference.startswith("DiagnosticReport/")
    report = _report(result)
    assert report["status"] == "preliminary" and len(report["result"]) == 2
    assert report["subject"]["reference"].startswith("Patient/")
    assert report["imagingStudy"][0]["reference"].startswith("ImagingStudy/")
    assert "not for clinical use" in report["conclusion"] and "mri-lesion-demo 1.0.0" in report["conclusion"]
    assert _observation_statuses(report) == {"preliminary"}

    already = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert _review(radiologist, result, decision=decision, comment="Reviewed on the console.").status_code == 200
    queued = OutboxMessage.objects.exclude(pk__in=already).filter(target="fhir_sync.sync_entity").order_by("created_at")
    outcomes = {tuple(m.payload["args"]): fhir_sync.sync_entity_now(*m.payload["args"]) for m in queued}  # as a worker
    assert set(outcomes) == {
        ("ai.observation", f"{result.pk}:lesion_count"),
        ("ai.observation", f"{result.pk}:lesion_volume_ml"),
        ("ai.result", result.pk),
    }
    again = outcomes[("ai.result", result.pk)]
    assert again.outcome == "updated" and again.reference == first.reference
    report = _report(result)
    assert report["status"] == fhir_status and "Reviewed on the console." in report["conclusion"]
    assert _observation_statuses(report) == {fhir_status}
