"""Every `fhir_sync.sync_entity` task put in the outbox (by any app, core.outbox.enqueue_task) also leaves a
PendingSync row in the same transaction, so a worker can send many pending syncs in one Bundle."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from core.messaging.names import FHIR_SYNC_TASK
from core.models import OutboxMessage

from .models import PendingSync


@receiver(post_save, sender=OutboxMessage, dispatch_uid="fhir_sync.pending_sync")
def sync_queued(sender, instance: OutboxMessage, created: bool, **kwargs) -> None:
    if not created or instance.kind != OutboxMessage.Kind.TASK or instance.target != FHIR_SYNC_TASK:
        return
    args = instance.payload.get("args") or []
    if len(args) == 2:
        PendingSync.objects.create(entity_type=str(args[0]), entity_id=str(args[1]))
