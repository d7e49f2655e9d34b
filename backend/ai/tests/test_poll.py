"""The deadline poll (beat task ai.poll_jobs): re-queue with the same job id and attempt + 1, then fail."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from ai import tasks
from ai.models import AIJob
from audit.models import Action, AuditEvent
from core.models import OutboxMessage

from .factories import complete, make_job

pytestmark = pytest.mark.django_db


def _overdue(job: AIJob, status: str = "QUEUED") -> AIJob:
    AIJob.objects.filter(pk=job.pk).update(status=status, deadline=timezone.now() - timedelta(seconds=1))
    job.refresh_from_db()
    return job


def _creates(job: AIJob) -> list[dict]:
    messages = OutboxMessage.objects.filter(target="ai.job.create", payload__job_id=str(job.pk)).order_by("created_at")
    return [message.payload for message in messages]


def test_the_beat_schedule_runs_the_poll():
    assert settings.CELERY_BEAT_SCHEDULE["ai-poll-jobs"]["task"] == "ai.poll_jobs"
    assert tasks.poll_jobs.name == "ai.poll_jobs"


def test_overdue_jobs_are_requeued_then_failed_after_the_limit(make_user, pushed, settings):
    settings.AI_JOB_MAX_ATTEMPTS = 3
    doctor = make_user("DOCTOR")
    job = make_job(doctor)
    on_time = make_job(doctor)
    missed = _overdue(job, "RUNNING").deadline

    assert tasks.poll_jobs() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_stage) == ("QUEUED", 2, "")
    assert job.deadline > timezone.now() + timedelta(seconds=settings.AI_JOB_DEADLINE_SECONDS - 10)
    first, second = _creates(job)
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert second["job_id"] == first["job_id"] == str(job.pk) and second["deadline"] == job.deadline.isoformat()
    assert second["input"] == first["input"] and second["requested_at"] == first["requested_at"]
    requeued = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_job", resource_id=str(job.pk))
    assert any(
        event.detail.get("requeued") and event.detail["missed_deadline"] == missed.isoformat() for event in requeued
    )

    _overdue(job)
    assert tasks.poll_jobs() == {"requeued": 1, "failed": 0}
    job = _overdue(job)
    assert job.attempts == 3
    assert tasks.poll_jobs() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "FAILED" and job.failure_reason.startswith("no result after 3 attempts (deadline ")
    assert len(_creates(job)) == 3
    assert pushed[-1][0] == [doctor.pk] and pushed[-1][1]["status"] == "FAILED"
    on_time.refresh_from_db()
    assert (on_time.status, on_time.attempts) == ("QUEUED", 1)
    assert tasks.poll_jobs() == {"requeued": 0, "failed": 0}


def test_finished_jobs_are_left_alone(make_user):
    job = complete(make_job(make_user("DOCTOR")))
    AIJob.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(hours=1))
    assert tasks.poll_jobs() == {"requeued": 0, "failed": 0}
    job.refresh_from_db()
    assert job.status == "COMPLETED"


def test_a_single_attempt_limit_fails_at_the_first_deadline(make_user, settings):
    settings.AI_JOB_MAX_ATTEMPTS = 1
    job = _overdue(make_job(make_user("DOCTOR")))
    assert tasks.poll_jobs() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.failure_reason.startswith("no result after 1 attempts")


def test_a_stuck_job_is_recovered_by_its_requeued_attempt(make_user, pushed):
    """The first message never produced a result (lost with a dead consumer, say): the poll publishes the
    job again and the result of that attempt completes it; the old attempt's late failure changes nothing."""
    import json

    from ai import events

    from .factories import result_body

    job = _overdue(make_job(make_user("DOCTOR")), "RUNNING")
    assert tasks.poll_jobs() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert _creates(job)[-1]["attempt"] == 2
    late_failure = {**result_body(job), "attempt": 1, "status": "FAILED", "reason": "deadline passed"}
    assert events.handle("ai.job.result", json.dumps(late_failure).encode()) == "stale"
    assert events.handle("ai.job.result", json.dumps(result_body(job)).encode()) == "completed"
    job.refresh_from_db()
    assert job.status == "COMPLETED" and job.attempts == 2 and job.result.status == "PRELIMINARY"
