"""Celery entry points of the radiology app."""

from celery import shared_task

from core.messaging import names

from . import services


@shared_task(name=names.RADIOLOGY_CHANGES_TASK, ignore_result=True)
def import_changes() -> int:
    """Beat task: import studies that became stable in Orthanc (modalities sending by C-STORE)."""
    return services.changes_import()


@shared_task(name="radiology.sync_study", ignore_result=True)
def sync_study(orthanc_study_id: str) -> None:
    services.study_sync(orthanc_study_id=orthanc_study_id, source="pacs")
