"""Every `fhir_sync.sync_entity` task put in the outbox (by any app, one by one or in bulk) also leaves a
PendingSync row in the same transaction, so a worker can send many pending syncs in one Bundle."""

from django.dispatch import receiver

from core.messaging.names import FHIR_SYNC_TASK
from core.models import OutboxMessage
from core.outbox import enqueued

from .models import PendingSync


@receiver(enqueued, sender=OutboxMessage, dispatch_uid="fhir_sync.pending_sync")
def syncs_queued(sender, messages: list[OutboxMessage], **kwargs) -> None:
    pending = [
        PendingSync(entity_type=str(args[0]), entity_id=str(args[1]))
        for message in messages
        if message.kind == OutboxMessage.Kind.TASK and message.target == FHIR_SYNC_TASK
        and len(args := message.payload.get("args") or []) == 2
    ]  # fmt: skip
    PendingSync.objects.bulk_create(pending)
