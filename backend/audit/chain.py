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
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from .models import GENESIS_HASH, AuditEvent, AuditSeal


def event_content(event: AuditEvent) -> dict:
    """What the seal covers: the hashed fields as JSON values (the time in ISO 8601, microseconds). An
    archive (audit.archive) stores exactly this, so that its links can be recomputed without the table."""
    content = {name: getattr(event, name) for name in AuditEvent.HASHED_FIELDS}
    content["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
    return content


def link_hash(prev_hash: str, position: int, event_id: int, content: dict) -> str:
    """sha256(previous hash | position | event id | canonical content): the link the chain is made of."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}|{position}|{event_id}|{canonical}".encode()).hexdigest()


def seal_hash(prev_hash: str, position: int, event: AuditEvent) -> str:
    return link_hash(prev_hash, position, event.pk, event_content(event))


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
    checked: int  # seals whose link was recomputed (in the database)
    checkpoints: int = 0  # signed checkpoints the chain was found to match
    reason: str = ""  # the first evidence of tampering; empty when none
    broken_at: int | None = None  # the event (or position) the reason names, when it names one
    error: str = ""  # verification could not finish (checkpoint store unreachable, no key)
    archived: int = 0  # positions kept only in signed archives (audit.archive), before the database's first
    lost_after: int | None = None  # a restored backup: the newest checkpoint's position, beyond the chain's end
    lost_hash: str = ""  # and its hash
    head_hash: str = ""  # the hash at the chain's end (position archived + checked), when it verified
    restores: tuple[str, ...] = ()  # the acknowledged restores (audit.restores) and what each lost

    @property
    def intact(self) -> bool:
        return not self.reason and not self.error

    @property
    def outcome(self) -> str:
        return "broken" if self.reason else "error" if self.error else "intact"


def _signed_time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # not a time: never before anything, so always compared
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def lost_in(position: int, written: str, restores: Iterable):
    """The first acknowledged restore (audit.restores) that lost what was signed at `written` for `position`:
    acknowledged later, its restored end before the position. None when no restore lost it."""
    when = _signed_time(written)
    later = [r for r in restores if _signed_time(r.acknowledged_at) > when and r.position < position]
    return min(later, key=lambda restore: _signed_time(restore.acknowledged_at), default=None)


def _compared(checkpoints: Iterable, restores: Iterable) -> tuple[list[tuple[int, str, str]], tuple[str, ...]]:
    """What the chain must match: (position, hash, label) of every checkpoint and every acknowledged restore's
    end, less those a restore lost (the chain as it was before the backup went back); and a line per restore
    naming what it lost."""
    restores = sorted(restores, key=lambda restore: _signed_time(restore.acknowledged_at))
    signed = [(c.position, c.hash, c.signed_at, f"the checkpoint signed at {c.signed_at}") for c in checkpoints]
    signed += [(r.position, r.hash, r.acknowledged_at, r.label) for r in restores]
    compared, lost = [], dict.fromkeys(restores, 0)
    for position, chain_hash, written, label in signed:
        if (by := lost_in(position, written, restores)) is None:
            compared.append((position, chain_hash, label))
        else:
            lost[by] += 1
    notes = tuple(
        f"positions {r.position + 1} to {r.lost_position} were lost in {r.label} by {r.by} ({r.reason}): "
        f"{count} signed records of them not compared"
        for r, count in lost.items()
    )
    return compared, notes


def verify_chain(
    checkpoints: Iterable | None = None,
    *,
    archives: Iterable = (),
    restores: Iterable = (),
    restored: bool = False,
    batch_size: int = 2000,
) -> ChainReport:
    """Recompute every link in position order and compare the chain with `checkpoints` (position and
    hash, from audit.checkpoints.read; none: the chain is checked against itself only). Seals everything
    committed first, so that an event left outside the chain is one nobody's sealer could see.

    `archives` (signed manifests, audit.archive.read) hold the chain's oldest months once they are moved
    out of the database: they must follow one another from position 1, and the database's part of the
    chain must start right after one of them, from its last hash. Checkpoints inside an archive are
    checked against its content by audit.archive.verify_contents, not here.

    `restores` (acknowledged restores, audit.restores.read): the checkpoints signed before one, beyond its
    restored end, are lost with the events they record (named in `restores`), not compared; the chain must
    match the acknowledgement's own position and hash like a checkpoint's, and every later checkpoint.

    `restored`: the database is a backup restored, older than the newest checkpoints. Its chain must match
    every checkpoint it reaches; checkpoints beyond its end are the events this restore loses (reported in
    `lost_after`), not tampering."""
    seal()
    checkpoints, notes = _compared(checkpoints or (), restores)
    archives = sorted(archives, key=lambda archive: archive.first_position)
    prev, position = GENESIS_HASH, 0
    boundaries = {0: GENESIS_HASH}  # position -> hash where an archive ends
    for archive in archives:
        if archive.first_position != position + 1 or archive.prev_hash != prev:
            reason = f"the archive {archive.key} does not follow position {position} (an archive is missing or forged)"
            return ChainReport(0, reason=reason, broken_at=archive.first_position)
        prev, position = archive.last_hash, archive.last_position
        boundaries[position] = prev
    first = AuditSeal.objects.order_by("position").values_list("position", flat=True).first()
    start = first - 1 if first is not None else position
    if start not in boundaries:
        low = max(boundary for boundary in boundaries if boundary < start) + 1
        reason = f"positions {low} to {start} are missing (seals removed, and no archive holds them)"
        return ChainReport(0, reason=reason, broken_at=low)
    prev, position = boundaries[start], start
    expected: dict[int, list] = {}
    matched = 0
    for at, chain_hash, label in checkpoints:
        if at > start:
            expected.setdefault(at, []).append((chain_hash, label))
        elif at in boundaries:
            if chain_hash != boundaries[at]:
                reason = f"the archives differ from {label} for position {at} (the chain up to it was rewritten)"
                return ChainReport(0, reason=reason, broken_at=at, archived=start)
            matched += label.startswith("the checkpoint")
    for archive in archives:
        if archive.last_position > start:
            expected.setdefault(archive.last_position, []).append((archive.last_hash, f"the archive {archive.key}"))
    while seals := list(AuditSeal.objects.filter(position__gt=position).order_by("position")[:batch_size]):
        events = AuditEvent.objects.in_bulk([row.event_id for row in seals])
        for row in seals:
            event = events.get(row.event_id)
            checked = position - start
            if row.position != position + 1:
                reason = f"positions {position + 1} to {row.position - 1} are missing (seals removed)"
                return ChainReport(checked, reason=reason, broken_at=position + 1, archived=start)
            if event is None:
                reason = f"event {row.event_id} at position {row.position} is missing (the row was removed)"
                return ChainReport(checked, reason=reason, broken_at=row.event_id, archived=start)
            if seal_hash(prev, row.position, event) != row.hash:
                reason = f"event {event.pk} at position {row.position} does not match its seal (the row was edited)"
                return ChainReport(checked, reason=reason, broken_at=event.pk, archived=start)
            prev, position = row.hash, row.position
            for chain_hash, label in expected.pop(position, ()):
                if chain_hash != prev:
                    reason = (
                        f"the chain differs from {label} for position {position} (the chain up to it was rewritten)"
                    )
                    return ChainReport(position - start, reason=reason, broken_at=position, archived=start)
                matched += label.startswith("the checkpoint")
    checked = position - start
    if expected and restored:
        beyond = max(expected)
        return ChainReport(
            checked,
            matched,
            archived=start,
            lost_after=beyond,
            lost_hash=expected[beyond][0][0],
            head_hash=prev,
            restores=notes,
        )
    if expected:
        beyond = max(expected)
        reason = (
            f"the chain ends at position {position}, but {expected[beyond][0][1]} records position {beyond} "
            f"(events were cut from the end, or the tables emptied)"
        )
        return ChainReport(checked, matched, reason=reason, broken_at=beyond, archived=start)
    since = timezone.now() - timedelta(seconds=settings.AUDIT_SEAL_WINDOW_SECONDS)
    stray = AuditEvent.objects.filter(seal__isnull=True, occurred_at__lt=since).order_by("id").first()
    if stray is not None:
        reason = f"event {stray.pk} is in no seal, yet older than the sealing window (added outside the chain)"
        return ChainReport(checked, matched, reason=reason, broken_at=stray.pk, archived=start)
    return ChainReport(checked, matched, archived=start, head_hash=prev, restores=notes)
