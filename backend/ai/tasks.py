"""Celery entry points of the AI app."""

from celery import shared_task

from core.messaging import names

from . import services


@shared_task(name=names.AI_POLL_TASK, ignore_result=True)
def poll_jobs() -> dict[str, int]:
    """Beat task (CELERY_BEAT_SCHEDULE "ai-poll-jobs"): re-queue or fail jobs past their deadline."""
    return services.jobs_poll()
