"""Periodic refresh of the patient cache (scheduled by celery beat, CELERY_BEAT_SCHEDULE): incremental,
with a full pass in pages at most every EMR_FULL_REFRESH_INTERVAL_SECONDS (emr.services)."""

from celery import shared_task
from django.conf import settings

from core.messaging import names
from emr.services import patient_cache_refresh


@shared_task(name=names.EMR_REFRESH_TASK, acks_late=True)
def refresh_patient_cache() -> int:
    if not settings.EMR_BASE_URL:
        return 0
    return patient_cache_refresh().read
