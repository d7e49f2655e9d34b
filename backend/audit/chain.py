"""Verification of the hash chain: recompute every event's hash in order and find the first break."""

from dataclasses import dataclass

from .models import GENESIS_HASH, AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None  # id of the first event whose link does not hold
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(batch_size: int = 2000) -> ChainReport:
    expected_prev, checked, last_id = GENESIS_HASH, 0, 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.prev_hash != expected_prev:
                return ChainReport(checked, event.id, "does not link to the event before it (an event was removed)")
            if event.compute_hash() != event.hash:
                return ChainReport(checked, event.id, "its content does not match its hash (the row was edited)")
            expected_prev, checked, last_id = event.hash, checked + 1, event.id
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != expected_prev:
        return ChainReport(checked, head.last_event_id, "the newest events are missing (removed from the end)")
    return ChainReport(checked)
