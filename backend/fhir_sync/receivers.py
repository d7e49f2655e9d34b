"""Every `fhir_sync.sync_entity` task put in the outbox (by any app, one by one or in bulk) also leaves a
PendingSync row in the same transaction, so a worker can send many pending syncs in one Bundle; a
`fhir_sync.sync_entities` task (a bulk sync) one row per entity it names."""

from django.dispatch import receiver

from core.messaging.names import FHIR_SYNC_MANY_TASK, FHIR_SYNC_TASK
from core.models import OutboxMessage
from core.outbox import enqueued

from .models import PendingSync


@receiver(enqueued, sender=OutboxMessage, dispatch_uid="fhir_sync.pending_sync")
def syncs_queued(sender, messages: list[OutboxMessage], **kwargs) -> None:
    pending = []
    for message in messages:
        args = message.payload.get("args") or []
        if message.kind != OutboxMessage.Kind.TASK or len(args) != 2:
            continue
        if message.target == FHIR_SYNC_TASK:
            pending.append(PendingSync(entity_type=str(args[0]), entity_id=str(args[1])))
        elif message.target == FHIR_SYNC_MANY_TASK:
            pending.extend(PendingSync(entity_type=str(args[0]), entity_id=str(entity)) for entity in args[1])
    PendingSync.objects.bulk_create(pending)
