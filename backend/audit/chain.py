"""The hash chain: the sealer that links events into it, and its verification against signed checkpoints.

Writers only INSERT events (audit.client). One sealer at a time (a MariaDB named lock, released if its
process dies) appends one AuditSeal per unsealed event, in event id order, each hash covering the one
before it. An event whose transaction commits late (after events with higher ids were sealed) is still
found for AUDIT_SEAL_WINDOW_SECONDS after it occurred and sealed at the end of the chain; after that, an
unsealed event can only have been added by hand, and verification reports it.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from .models import GENESIS_HASH, AuditEvent, AuditSeal


def seal_hash(prev_hash: str, position: int, event: AuditEvent) -> str:
    """sha256(previous hash | position | event id | canonical content): the link the chain is made of."""
    content = {name: getattr(event, name) for name in AuditEvent.HASHED_FIELDS}
    content["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}|{position}|{event.pk}|{canonical}".encode()).hexdigest()


# --- sealing -------------------------------------------------------------------------------------------


@contextmanager
def _sealer_lock() -> Iterator[bool]:
    """True while this connection holds the sealer's named lock (per database: test databases differ)."""
    name = f"{connection.settings_dict['NAME']}.audit_sealer"[-64:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", [name])
        held = cursor.fetchone()[0] == 1
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


def head() -> tuple[int, str]:
    """(position, hash) of the newest seal; (0, genesis) for an empty chain."""
    return AuditSeal.objects.order_by("-position").values_list("position", "hash").first() or (0, GENESIS_HASH)


def seal(*, batch: int = 2000) -> int | None:
    """Seal every committed event not sealed yet. Returns how many, or None when another sealer runs."""
    with _sealer_lock() as held:
        if not held:
            return None
        total = 0
        while True:
            with transaction.atomic():
                sealed = _seal_batch(batch)
            total += sealed
            if sealed < batch:
                return total


def _unsealed_ids(batch: int) -> list[int]:
    top = AuditSeal.objects.aggregate(top=Max("event_id"))["top"] or 0
    newer = AuditEvent.objects.filter(id__gt=top).order_by("id").values_list("id", flat=True)[:batch]
    since = timezone.now() - timedelta(seconds=settings.AUDIT_SEAL_WINDOW_SECONDS)
    late = (
        AuditEvent.objects.filter(occurred_at__gte=since, id__lt=top, seal__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:batch]
    )
    return sorted([*late, *newer])[:batch]


def _seal_batch(batch: int) -> int:
    ids = _unsealed_ids(batch)
    if not ids:
        return 0
    events = AuditEvent.objects.in_bulk(ids)
    position, prev, now = *head(), timezone.now()
    seals = []
    for event_id in ids:
        position += 1
        prev = seal_hash(prev, position, events[event_id])
        seals.append(AuditSeal(position=position, event_id=event_id, hash=prev, sealed_at=now))
    AuditSeal.objects.bulk_create(seals)  # a second sealer racing past the lock would hit the primary key
    return len(seals)


def unsealed_backlog() -> tuple[int, float]:
    """(events waiting for the sealer, age in seconds of the oldest) among events newer than the head."""
    top = AuditSeal.objects.aggregate(top=Max("event_id"))["top"] or 0
    waiting = AuditEvent.objects.filter(id__gt=top)
    oldest = waiting.order_by("id").values_list("occurred_at", flat=True).first()
    return waiting.count(), (timezone.now() - oldest).total_seconds() if oldest else 0.0


# --- verification --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    checked: int  # seals whose link was recomputed
    checkpoints: int = 0  # signed checkpoints the chain was found to match
    reason: str = ""  # the first evidence of tampering; empty when none
    broken_at: int | None = None  # the event (or position) the reason names, when it names one
    error: str = ""  # verification could not finish (checkpoint store unreachable, no key)

    @property
    def intact(self) -> bool:
        return not self.reason and not self.error

    @property
    def outcome(self) -> str:
        return "broken" if self.reason else "error" if self.error else "intact"


def verify_chain(checkpoints: Iterable | None = None, *, batch_size: int = 2000) -> ChainReport:
    """Recompute every link in position order and compare the chain with `checkpoints` (position and
    hash, from audit.checkpoints.read; none: the chain is checked against itself only). Seals everything
    committed first, so that an event left outside the chain is one nobody's sealer could see."""
    seal()
    checkpoints = list(checkpoints or ())
    expected: dict[int, list] = {}
    for checkpoint in checkpoints:
        expected.setdefault(checkpoint.position, []).append(checkpoint)
    prev, position = GENESIS_HASH, 0
    while seals := list(AuditSeal.objects.filter(position__gt=position).order_by("position")[:batch_size]):
        events = AuditEvent.objects.in_bulk([row.event_id for row in seals])
        for row in seals:
            event = events.get(row.event_id)
            if row.position != position + 1:
                reason = f"positions {position + 1} to {row.position - 1} are missing (seals removed)"
                return ChainReport(position, reason=reason, broken_at=position + 1)
            if event is None:
                reason = f"event {row.event_id} at position {row.position} is missing (the row was removed)"
                return ChainReport(position, reason=reason, broken_at=row.event_id)
            if seal_hash(prev, row.position, event) != row.hash:
                reason = f"event {event.pk} at position {row.position} does not match its seal (the row was edited)"
                return ChainReport(position, reason=reason, broken_at=event.pk)
            prev, position = row.hash, row.position
            for checkpoint in expected.pop(position, ()):
                if checkpoint.hash != prev:
                    reason = (
                        f"the chain differs from the checkpoint signed at {checkpoint.signed_at} for position "
                        f"{position} (the chain up to it was rewritten)"
                    )
                    return ChainReport(position, reason=reason, broken_at=position)
    matched = len(checkpoints) - sum(len(rest) for rest in expected.values())
    if expected:
        beyond = max(expected)
        reason = (
            f"the chain ends at position {position}, but a checkpoint signed at {expected[beyond][0].signed_at} "
            f"records position {beyond} (events were cut from the end, or the tables emptied)"
        )
        return ChainReport(position, matched, reason=reason, broken_at=beyond)
    since = timezone.now() - timedelta(seconds=settings.AUDIT_SEAL_WINDOW_SECONDS)
    stray = AuditEvent.objects.filter(seal__isnull=True, occurred_at__lt=since).order_by("id").first()
    if stray is not None:
        reason = f"event {stray.pk} is in no seal, yet older than the sealing window (added outside the chain)"
        return ChainReport(position, matched, reason=reason, broken_at=stray.pk)
    return ChainReport(position, matched)
