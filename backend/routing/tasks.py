"""Celery entry point of the routing app."""

from celery import shared_task

from core.http import ExternalSystemError
from core.messaging import names

from . import services


@shared_task(
    name=names.ROUTING_APPLY_TASK,
    ignore_result=True,
    autoretry_for=(ExternalSystemError,),  # the ai-server away while resolving "newest": try again later
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=10,
)
def apply_rules(study_pk: int) -> int:
    """Apply the enabled rules to one study; returns how many analyses it requested."""
    return len(services.apply_rules(study_pk=study_pk))
