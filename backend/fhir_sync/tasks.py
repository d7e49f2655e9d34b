"""Celery entry points of the FHIR sync (queue `fhir`, see core.messaging.names).

`fhir_sync.sync_entity(entity_type, entity_id)` is the one task other apps ask for, through the outbox:

    core.outbox.enqueue_task(names.FHIR_SYNC_TASK, "radiology.study", study.pk)

Late acks and reject-on-worker-lost (settings) make a crash mid-task redeliver it; the sync itself is
idempotent. A task sends its entity in one transaction Bundle with up to FHIR_BUNDLE_MAX_ENTRIES - 1 other
pending ones (services.sync_batch_now); the tasks of those find them synced. A bulk sync (a first sync, a
reconcile) is `fhir_sync.sync_entities(entity_type, ids)`: one message per Bundle's worth. Retryable failures are
retried FHIR_SYNC_MAX_RETRIES times with exponential backoff and jitter; then, or at once for a refusal
(400/422), the entity becomes a dead letter.
"""

import logging
import random

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.http import CircuitOpen
from core.messaging import names
from core.outage import dependency_of

from . import metrics, services
from .transforms import TransformError, get_spec

logger = logging.getLogger(__name__)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with jitter: half of base * 2^n fixed, the other half random (never 0, so a
    burst of failures spreads out instead of coming back at once)."""
    delay = min(settings.FHIR_SYNC_RETRY_BACKOFF_MAX_SECONDS, settings.FHIR_SYNC_RETRY_BACKOFF_SECONDS * 2**retries)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)


@shared_task(name=names.FHIR_SYNC_TASK, bind=True, acks_late=True, max_retries=None, ignore_result=True)
def sync_entity(self, entity_type: str, entity_id) -> str:
    try:
        last_attempt = self.request.retries >= settings.FHIR_SYNC_MAX_RETRIES
        result = services.sync_batch_now(
            entity_type, entity_id, claimant=self.request.id or "", last_attempt=last_attempt
        )
    except Exception as exc:
        retries = self.request.retries
        if platform := dependency_of(exc):
            # Our own database (or Redis, RabbitMQ) is away: nothing can be synced or even dead-lettered, and a
            # failed task would be acknowledged and lost. Retry for as long as the outage lasts.
            countdown = backoff_seconds(min(retries, 16))
            logger.warning("fhir sync %s:%s waits for the %s (%s); again in %.1f s", entity_type, entity_id,
                           platform, exc, countdown)  # fmt: skip
            raise self.retry(countdown=countdown, exc=exc, max_retries=None) from exc
        resource_type = _resource_type(entity_type)
        if services.is_retryable(exc) and retries < settings.FHIR_SYNC_MAX_RETRIES:
            metrics.RETRIED.labels(resource_type).inc()
            countdown = backoff_seconds(retries)
            if isinstance(exc, CircuitOpen):  # no call is let through before the breaker's probe time
                countdown = max(countdown, settings.CIRCUIT_BREAKER_RESET_SECONDS * (1 + random.random()))  # noqa: S311
            logger.info("fhir sync %s:%s failed (%s); retry %d in %.1f s", entity_type, entity_id, exc, retries + 1,
                        countdown)  # fmt: skip
            raise self.retry(countdown=countdown, exc=exc) from exc
        if not services.is_retryable(exc) and not isinstance(exc, services.Permanent | TransformError):
            logger.warning("fhir sync %s:%s refused: %s", entity_type, entity_id, exc)
        services.dead_letter_record(
            entity_type=entity_type,
            entity_id=entity_id,
            exc=exc,
            attempts=retries + 1,
            retryable=services.is_retryable(exc),
            task_id=self.request.id or "",
        )
        return "dead-lettered"
    _observe_lag(self.request.id)
    return result.outcome


@shared_task(name=names.FHIR_SYNC_MANY_TASK, bind=True, acks_late=True, max_retries=None, ignore_result=True)
def sync_entities(self, entity_type: str, entity_ids: list) -> dict:
    """A bulk sync (services.request_syncs): its entities in Bundles; one that fails gets a sync_entity task
    of its own (retries, dead letter). Only an outage of our own platform retries the whole message."""
    try:
        return services.sync_many_now(entity_type, entity_ids, claimant=self.request.id or "")
    except Exception as exc:
        platform = dependency_of(exc)
        if platform is None and not services.is_retryable(exc):
            raise
        countdown = backoff_seconds(min(self.request.retries, 16))
        logger.warning("fhir bulk sync of %d %s waits for the %s (%s); again in %.1f s", len(entity_ids),
                       entity_type, platform or "FHIR server", exc, countdown)  # fmt: skip
        raise self.retry(countdown=countdown, exc=exc, max_retries=None) from exc


def _resource_type(entity_type: str) -> str:
    try:
        return get_spec(entity_type).resource_type
    except TransformError:
        return "unknown"


def _observe_lag(task_id: str | None) -> None:
    """Time since the sync was asked for: the outbox row's id is the first task id of a sync."""
    from core.models import OutboxMessage

    if not task_id:
        return
    try:
        created = OutboxMessage.objects.filter(pk=task_id).values_list("created_at", flat=True).first()
    except (ValueError, ValidationError):  # a task id that is not an outbox row's (sent by hand)
        return
    if created is not None:
        metrics.SYNC_LAG.observe(max(0.0, (timezone.now() - created).total_seconds()))


@shared_task(name=names.FHIR_RECONCILE_TASK, ignore_result=True)
def reconcile() -> dict:
    """Beat: queue entities whose content changed since their last sync (or that never synced)."""
    return services.reconcile()
