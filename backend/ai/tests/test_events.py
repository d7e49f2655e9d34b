"""The handlers of the ai-server's messages (ai.events), called directly: progress, completed, failed,
duplicates and late results ignored, malformed messages refused for the dead-letter queue."""

import json
import uuid

import pytest
from django.conf import settings

from ai import events
from ai.models import AIJob, AIResult
from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from emr.models import TimelineEvent

from .factories import make_job, result_body

pytestmark = pytest.mark.django_db


def _send(routing_key: str, body) -> str:
    return events.handle(routing_key, json.dumps(body).encode())


def test_progress_starts_the_job_and_reaches_the_requester(make_user, pushed):
    doctor = make_user("DOCTOR")
    job = make_job(doctor)
    progress = {"job_id": str(job.pk), "stage": "fetching", "fraction": 0.1, "at": "2026-11-26T10:00:00+00:00"}
    assert _send("ai.job.progress", progress) == "progress"
    assert _send("ai.job.progress", {**progress, "stage": "inference", "fraction": 0.5}) == "progress"
    job.refresh_from_db()
    assert (job.status, job.progress_stage, job.progress_fraction) == ("RUNNING", "inference", 0.5)
    assert job.started_at is not None
    assert pushed[-1] == (
        [doctor.pk],
        {"type": "ai.job.progress", "job_id": str(job.pk), "status": "RUNNING", "stage": "inference", "fraction": 0.5},
    )
    started = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_job", resource_id=str(job.pk))
    assert [(e.detail["from"], e.detail["to"]) for e in started] == [("QUEUED", "RUNNING")]  # audited once


def test_completed_result_makes_a_preliminary_result_and_asks_for_the_fhir_sync(make_user, pushed):
    doctor = make_user("DOCTOR")
    job = make_job(doctor)
    metrics = {  # the shape the segmentation pipeline reports
        "series_instance_uid": "1.2.3.4",
        "slices": 95,
        "spacing_mm": [1.0, 1.0, 2.0],
        "volume_ml": {"lesion": 12.5, "oedema": None},
        "labels": {"lesion": {"label": 1, "voxels": 100, "slices": [40, 41]}},
        "risk_group": "high",
        "score": {"value": 0.4, "unit": "1"},
        "flag": True,
    }
    assert _send("ai.job.result", result_body(job, metrics=metrics)) == "completed"
    job.refresh_from_db()
    assert (job.status, job.model_version, job.device, job.progress_fraction) == ("COMPLETED", "1.0.0", "cpu", 1.0)
    assert job.finished_at is not None and job.timings["total"] == 1.7 and job.model_sha256 == "ab" * 32
    result = AIResult.objects.get(job=job)
    assert result.status == "PRELIMINARY"
    assert result.raw_metrics == metrics
    assert result.metrics == {  # what becomes FHIR Observations: numbers only, units from the names
        "slices": 95,
        "volume_ml.lesion": {"value": 12.5, "unit": "mL"},
        "score": {"value": 0.4, "unit": "1"},
    }
    assert [a["name"] for a in result.artifacts] == ["seg", "result"]
    assert result.orthanc_seg_series_uid == "1.2.3" and "not for clinical use" in result.disclaimer
    # what the FHIR transforms read
    assert (result.patient_id, result.study_id, result.order_id) == (job.patient_id, job.study_id, None)
    assert (result.model_name, result.model_version) == ("mri-lesion-demo", "1.0.0")
    assert result.conclusion.startswith("2 lesions") and "not for clinical use" in result.conclusion

    sync = OutboxMessage.objects.get(target="fhir_sync.sync_entity")
    assert sync.payload == {"args": ["ai.result", result.pk], "kwargs": {}}
    assert AuditEvent.objects.filter(
        action=Action.CREATE, resource_type="ai_result", resource_id=str(result.pk), patient_id=job.patient.emr_uuid
    ).exists()
    assert TimelineEvent.objects.filter(patient=job.patient, kind="ai_result", source_id=str(result.pk)).exists()
    assert pushed[-2] == (
        [doctor.pk],
        {
            "type": "ai.job.finished",
            "job_id": str(job.pk),
            "status": "COMPLETED",
            "result_id": result.pk,
            "reason": None,
        },
    )
    assert pushed[-1][1]["type"] == "ai.result.awaiting_sign_off"  # to the radiologists (test_sign_off.py)


def test_failed_result_fails_the_job_with_its_reason(make_user, pushed):
    job = make_job(make_user("DOCTOR"))
    reason = "series 1.2.3 has slices with different orientations"
    assert (
        _send("ai.job.result", result_body(job, status="FAILED", reason=reason, metrics={}, artifacts=[])) == "failed"
    )
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == ("FAILED", reason)
    assert not AIResult.objects.exists()
    assert pushed[-1][1]["status"] == "FAILED" and pushed[-1][1]["reason"] == reason
    failed = AuditEvent.objects.get(action=Action.UPDATE, resource_type="ai_job", resource_id=str(job.pk))
    assert failed.detail["to"] == "FAILED" and failed.detail["reason"] == reason

    no_reason = make_job(make_user("DOCTOR"))
    _send("ai.job.result", result_body(no_reason, status="FAILED", reason=None))
    no_reason.refresh_from_db()
    assert no_reason.failure_reason == "The ai-server reported a failure without a reason."


def test_a_duplicate_result_changes_nothing(make_user, pushed):
    job = make_job(make_user("DOCTOR"))
    body = result_body(job)
    assert _send("ai.job.result", body) == "completed"
    pushes, audits = len(pushed), AuditEvent.objects.count()
    assert _send("ai.job.result", body) == "ignored"
    assert _send("ai.job.result", {**body, "status": "FAILED", "reason": "late"}) == "ignored"
    assert _send("ai.job.progress", {"job_id": str(job.pk), "stage": "writing", "fraction": 0.9}) == "ignored"
    job.refresh_from_db()
    assert job.status == "COMPLETED" and AIResult.objects.filter(job=job).count() == 1
    assert OutboxMessage.objects.filter(target="fhir_sync.sync_entity").count() == 1
    assert (len(pushed), AuditEvent.objects.count()) == (pushes, audits)


def test_a_failure_of_an_older_attempt_does_not_fail_a_requeued_job(make_user, pushed):
    job = make_job(make_user("DOCTOR"))
    AIJob.objects.filter(pk=job.pk).update(attempts=2)  # the poll re-queued it
    late = result_body(job, status="FAILED", reason="deadline passed during the queue")
    assert _send("ai.job.result", {**late, "attempt": 1}) == "stale"
    job.refresh_from_db()
    assert job.status == "QUEUED" and job.failure_reason == ""
    assert _send("ai.job.result", {**result_body(job), "attempt": 1}) == "completed"  # any attempt's success counts


def test_a_result_for_a_cancelled_job_is_ignored(make_user, pushed):
    from ai import services

    doctor = make_user("DOCTOR")
    job = services.job_cancel(actor=doctor, job=make_job(doctor))
    assert _send("ai.job.result", result_body(job)) == "ignored"
    job.refresh_from_db()
    assert job.status == "CANCELLED" and not AIResult.objects.exists()


def test_a_result_for_an_unknown_job_is_acknowledged_and_ignored():
    assert _send("ai.job.result", {**result_body(AIJob(model_name="m")), "job_id": str(uuid.uuid4())}) == "unknown"
    assert _send("ai.job.progress", {"job_id": str(uuid.uuid4()), "stage": "fetching", "fraction": 0}) == "ignored"


@pytest.mark.parametrize(
    ("routing_key", "body", "fragment"),
    [
        ("ai.job.result", b"{not json", "not JSON"),
        ("ai.job.result", b"\xff\xfe", "not JSON"),
        ("ai.job.result", b"[1, 2]", "not a JSON object"),
        ("ai.job.result", b'{"status": "COMPLETED"}', "job_id"),
        ("ai.job.result", b'{"job_id": "x", "status": "COMPLETED"}', "job_id"),
        ("ai.job.progress", b'{"job_id": "%s", "stage": "dreaming", "fraction": 0.5}', "stage"),
        ("ai.job.progress", b'{"job_id": "%s", "stage": "fetching", "fraction": 1.5}', "fraction"),
        ("ai.job.other", b"{}", "no handler"),
    ],
)
def test_malformed_messages_are_refused(routing_key, body, fragment):
    if b"%s" in body:
        body = body % str(uuid.uuid4()).encode()
    with pytest.raises(events.MalformedEvent, match=fragment):
        events.handle(routing_key, body)


def test_results_with_bad_fields_are_refused(make_user):
    job = make_job(make_user("DOCTOR"))
    bad = [
        {"status": "DONE"},
        {"attempt": 0},
        {"artifacts": [{"name": "seg", "bucket": "cdss-backups", "key": "x"}]},  # another bucket: never served
        {"artifacts": [{"name": "../seg", "bucket": settings.S3_BUCKETS["artifacts"], "key": "x"}]},
        {"artifacts": [{"name": "seg", "bucket": settings.S3_BUCKETS["artifacts"], "key": "../x"}]},
        {"artifacts": [{"name": "a", "bucket": settings.S3_BUCKETS["artifacts"], "key": "x"}] * 2},
        {"metrics": [1, 2]},
    ]
    for override in bad:
        with pytest.raises(events.MalformedEvent):
            events.handle("ai.job.result", json.dumps(result_body(job, **override)).encode())
    job.refresh_from_db()
    assert job.status == "QUEUED"


def test_optional_fields_may_be_null():
    body = {
        "job_id": str(uuid.uuid4()),
        "status": "FAILED",
        "reason": "unknown model 'x'",
        "model": None,
        "metrics": None,
        "artifacts": None,
        "orthanc": None,
        "timings": None,
        "summary": None,
    }
    report = events.parse_result(body)
    assert (report.raw_metrics, report.artifacts, report.orthanc, report.model) == ({}, [], {}, {})
