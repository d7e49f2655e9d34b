"""Monthly archives: the chain's closed months moved out of the database into the write-once store.

The audit tables only grow. Once a month is over (by the seals' time, UTC, plus the sealing window), its
part of the chain, positions first to last (contiguous: one sealer seals in order), is written to the
audit bucket as gzipped JSON lines (position, event id, hash, sealed_at and exactly the content the link
hashes, audit.chain.event_content) with a manifest signed like the checkpoints (HMAC, AUDIT_CHECKPOINT_KEY):
the month, the positions, the hash before the first (`prev_hash`), the last hash, the data's SHA-256.
Both objects are locked in COMPLIANCE mode for AUDIT_ARCHIVE_RETENTION_DAYS (at least two years: the
access logs that Korea's PIPA makes a processor keep). A checkpoint is signed at the last position too.
The archive is read back and every link recomputed before the month is recorded (AuditArchive), and only
a recorded month may be deleted from the database, by the owner's purge (the DELETE triggers of
migration 0006 refuse anything else), once it is older than AUDIT_DATABASE_MONTHS.

Verification (audit.chain.verify_chain) takes the signed manifests from the store, never the database's
record: they must follow one another from position 1, and the database's chain must start right after
one of them, from its last hash. `verify_contents` recomputes an archive's links and checks the
checkpoints inside it (verify_audit_chain --archives).
"""

import base64
import gzip
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta

import urllib3
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException
from minio.retention import Retention

from core.storage import storage_client

from . import checkpoints
from .chain import event_content, head, link_hash, seal
from .models import GENESIS_HASH, AuditArchive, AuditEvent, AuditSeal

MINIMUM_RETENTION_DAYS = 2 * 366  # PIPA: access logs kept at least two years


class ArchiveError(Exception):
    """A month cannot be archived or purged: the chain is broken, the store refused, a check failed."""


@dataclass(frozen=True)
class Archive:
    month: str
    first_position: int
    last_position: int
    prev_hash: str
    last_hash: str
    events: int
    data: str  # the data object's name
    sha256: str
    size: int
    signed_at: str
    key: str = ""  # the manifest's object name and version in the store
    version_id: str = ""

    def fields(self) -> dict:
        return {name: value for name, value in asdict(self).items() if name not in ("key", "version_id")}


def manifest_name(first_position: int) -> str:
    return f"{settings.AUDIT_ARCHIVE_PREFIX}{first_position:015d}.json"


def data_name(first_position: int, last_position: int) -> str:
    return f"{settings.AUDIT_ARCHIVE_PREFIX}{first_position:015d}-{last_position:015d}.jsonl.gz"


def _retention() -> Retention:
    days = settings.AUDIT_ARCHIVE_RETENTION_DAYS
    if days < MINIMUM_RETENTION_DAYS:
        raise ArchiveError(f"AUDIT_ARCHIVE_RETENTION_DAYS={days}: the law asks for at least two years")
    return Retention(COMPLIANCE, timezone.now() + timedelta(days=days))


# --- reading ---------------------------------------------------------------------------------------------


def read() -> tuple[list[Archive], list[str]]:
    """Every signed manifest (one per archived month; a version written twice counts once), and the
    problems: versions with no valid signature, manifests hidden by a delete marker."""
    manifests, problems = checkpoints.signed_versions(
        settings.AUDIT_ARCHIVE_PREFIX,
        _parse,
        what="archive manifest",
        written_by="the archiving command",
        suffix=".json",  # not the data objects: read by verify_contents
    )
    found: dict[tuple, Archive] = {}
    for archive in manifests:
        found.setdefault(tuple(archive.fields().items()), archive)
    return sorted(found.values(), key=lambda archive: archive.first_position), problems


def _parse(body: bytes, name: str, version_id: str, stored_at=None) -> Archive | None:
    try:
        data = json.loads(body)
        signature = str(data.pop("signature"))
        archive = Archive(**{field.name: data[field.name] for field in fields(Archive) if field.name in data})
    except (ValueError, KeyError, TypeError):
        return None
    if not checkpoints.signed_by_a_key(archive.fields(), signature) or manifest_name(archive.first_position) != name:
        return None
    return replace(archive, key=name, version_id=version_id)


def recorded() -> list[Archive]:
    """The database's own record of the archived months (unsigned: for when the store is unreachable)."""
    return [
        Archive(
            row.month,
            row.first_position,
            row.last_position,
            row.prev_hash,
            row.last_hash,
            0,
            "",
            "",
            0,
            "",
            row.manifest,
        )
        for row in AuditArchive.objects.all()
    ]


def _lines(archive: Archive):
    """The data object's lines, after checking its size and SHA-256 against the signed manifest."""
    client = storage_client(timeout=120.0)
    with tempfile.TemporaryFile() as spool:
        digest, size = hashlib.sha256(), 0
        response = client.get_object(checkpoints.bucket(), archive.data)
        try:
            for chunk in response.stream(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
        finally:
            response.close()
            response.release_conn()
        if digest.hexdigest() != archive.sha256 or size != archive.size:
            raise ArchiveError(f"the archive {archive.data} is not the one its manifest signed")
        spool.seek(0)
        with gzip.open(spool, "rt", encoding="utf-8") as text:
            yield from text


def verify_contents(archive: Archive, checkpoint_list=()) -> str:
    """Recompute every link of an archive from its prev_hash; compare with its last hash and with the
    checkpoints inside its range. Returns the first evidence of tampering, empty when none."""
    inside = {c.position: c for c in checkpoint_list if archive.first_position <= c.position <= archive.last_position}
    prev, position = archive.prev_hash, archive.first_position - 1
    try:
        for line in _lines(archive):
            row = json.loads(line)
            if row["position"] != position + 1:
                return f"the archive {archive.data} skips from position {position} to {row['position']}"
            prev, position = link_hash(prev, row["position"], row["event_id"], row["event"]), row["position"]
            if prev != row["hash"]:
                return f"event {row['event_id']} at position {position} of {archive.data} does not match its seal"
            checkpoint = inside.get(position)
            if checkpoint is not None and checkpoint.hash != prev:
                return f"the archive {archive.data} differs from the checkpoint signed at {checkpoint.signed_at}"
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise checkpoints.CheckpointError(f"the archive store is unreachable: {exc}") from exc
    except ArchiveError as exc:
        return str(exc)
    if position != archive.last_position or prev != archive.last_hash:
        return f"the archive {archive.data} ends at position {position}, not at its manifest's {archive.last_position}"
    return ""


# --- archiving -------------------------------------------------------------------------------------------


def _sealed_at(position: int) -> datetime:
    return AuditSeal.objects.filter(position=position).values_list("sealed_at", flat=True).get()


def _next_month(after: int) -> tuple[str, int, int] | None:
    """(month, first, last) of the closed month that follows position `after`, or None. The last position
    is found by bisection on the primary key (sealed_at grows with the position: one sealer, in order)."""
    top, _ = head()
    if top <= after:
        return None
    start = _sealed_at(after + 1).astimezone(UTC)
    month_end = (start.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
    if month_end + timedelta(seconds=settings.AUDIT_SEAL_WINDOW_SECONDS) > timezone.now():
        return None  # not over yet (late events of its last minutes may still be sealed)
    low, high = after + 1, top  # sealed_at(low) < month_end; find the last such position
    while low < high:
        middle = (low + high + 1) // 2
        if _sealed_at(middle) < month_end:
            low = middle
        else:
            high = middle - 1
    return f"{start:%Y-%m}", after + 1, low


def _export(first: int, last: int, prev: str, spool, *, batch: int = 5000) -> tuple[str, int]:
    """Write positions first..last as gzipped JSON lines, recomputing each link (refused if one does not
    match: a broken chain is not archived). Returns the last hash and the number of events."""
    position, count = first - 1, 0
    with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=6, mtime=0) as out:
        while position < last:
            seals = list(
                AuditSeal.objects.filter(position__gt=position, position__lte=last).order_by("position")[:batch]
            )
            if not seals or seals[0].position != position + 1:
                raise ArchiveError(f"position {position + 1} is missing: the chain is broken, not archived")
            events = AuditEvent.objects.in_bulk([row.event_id for row in seals])
            lines = []
            for row in seals:
                event = events.get(row.event_id)
                if row.position != position + 1 or event is None:
                    raise ArchiveError(f"position {position + 1} is incomplete: the chain is broken, not archived")
                content = event_content(event)
                prev = link_hash(prev, row.position, event.pk, content)
                if prev != row.hash:
                    raise ArchiveError(f"event {event.pk} does not match its seal: the chain is broken, not archived")
                entry = {
                    "position": row.position,
                    "event_id": event.pk,
                    "hash": row.hash,
                    "sealed_at": row.sealed_at.isoformat(),
                }
                lines.append(json.dumps({**entry, "event": content}, ensure_ascii=False, default=str))
                position = row.position
            out.write(("\n".join(lines) + "\n").encode())
            count += len(seals)
    return prev, count


def _put(client, name: str, spool, size: int, digest: bytes, content_type: str) -> str:
    body_checksum = {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": _b64(digest)}
    spool.seek(0)
    result = client.put_object(
        checkpoints.bucket(),
        name,
        spool,
        size,
        content_type=content_type,
        metadata=body_checksum,
        retention=_retention(),
    )
    return result.version_id or ""


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def archive_next() -> Archive | None:
    """Archive the oldest closed month not archived yet: export, sign, store locked, read back and verify,
    record. Returns it, or None when no closed month is left."""
    _retention()  # refuse at once when the retention is too short
    seal()
    archives, problems = read()
    if problems:
        raise ArchiveError(f"the archives in the store are not intact: {problems[0]}")
    after, prev = (archives[-1].last_position, archives[-1].last_hash) if archives else (0, GENESIS_HASH)
    if AuditArchive.objects.filter(first_position=after + 1).exists():
        raise ArchiveError(f"position {after + 1} is recorded as archived but no signed manifest holds it")
    if after and not AuditArchive.objects.filter(last_position=after).exists():
        _record(archives[-1])  # stored and signed by a run that stopped before recording it
    found = _next_month(after)
    if found is None:
        return None
    month, first, last = found
    at_after = AuditSeal.objects.filter(position=after).values_list("hash", flat=True).first()
    if at_after not in (None, prev):  # None: the month before is purged; prev is its signed last hash
        raise ArchiveError(f"the database's chain differs from the archive ending at position {after}")
    checkpoints.write(position=last)
    client = storage_client(timeout=120.0)
    with tempfile.TemporaryFile() as spool:
        last_hash, count = _export(first, last, prev, spool)
        size = spool.tell()
        spool.seek(0)
        digest = hashlib.sha256()
        while chunk := spool.read(1 << 20):
            digest.update(chunk)
        try:
            _put(client, data_name(first, last), spool, size, digest.digest(), "application/gzip")
            archive = Archive(
                month,
                first,
                last,
                prev,
                last_hash,
                count,
                data_name(first, last),
                digest.hexdigest(),
                size,
                timezone.now().isoformat(timespec="seconds"),
            )
            body = json.dumps({**archive.fields(), "signature": checkpoints.sign(archive.fields())}).encode()
            with tempfile.TemporaryFile() as manifest:
                manifest.write(body)
                version = _put(
                    client, manifest_name(first), manifest, len(body), hashlib.sha256(body).digest(), "application/json"
                )
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ArchiveError(f"the archive store refused the month {month}: {exc}") from exc
    archive = replace(archive, key=manifest_name(first), version_id=version)
    if reason := verify_contents(archive, checkpoints.read(above=after)[0]):  # those inside it, not older
        raise ArchiveError(f"the stored archive of {month} does not verify: {reason}")
    _record(archive)
    return archive


def _record(archive: Archive) -> None:
    AuditArchive.objects.create(
        month=archive.month,
        first_position=archive.first_position,
        last_position=archive.last_position,
        prev_hash=archive.prev_hash,
        last_hash=archive.last_hash,
        manifest=archive.key or manifest_name(archive.first_position),
        archived_at=timezone.now(),
    )


# --- purging (the owner's) --------------------------------------------------------------------------------


def purge(*, months: int | None = None, batch: int = 10000) -> int:
    """Delete from the database the events and seals of archived months sealed more than `months`
    (AUDIT_DATABASE_MONTHS) months ago, each checked against its signed manifest first; never the chain's
    head. Needs the owner's account (the application's holds no DELETE). Returns the events deleted."""
    months = settings.AUDIT_DATABASE_MONTHS if months is None else months
    now = timezone.now()
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    cutoff = f"{year:04d}-{month + 1:02d}"  # months before it are purged
    signed = {archive.first_position: archive for archive in read()[0]}
    top, _ = head()
    deleted = 0
    for record in AuditArchive.objects.filter(month__lt=cutoff).order_by("first_position"):
        archive = signed.get(record.first_position)
        if archive is None or (archive.last_position, archive.last_hash) != (record.last_position, record.last_hash):
            raise ArchiveError(f"{record} has no signed manifest that matches it: nothing purged from it")
        if archive.last_position >= top:
            continue  # the head stays: the sealer continues the chain from it
        at_end = AuditSeal.objects.filter(position=archive.last_position).values_list("hash", flat=True).first()
        if at_end not in (None, archive.last_hash):
            raise ArchiveError(f"the database's chain differs from {record}: nothing purged from it")
        deleted += _delete(archive.first_position, archive.last_position, batch)
    return deleted


def _delete(first: int, last: int, batch: int) -> int:
    deleted = 0
    quote = connection.ops.quote_name
    events, seals = quote(AuditEvent._meta.db_table), quote(AuditSeal._meta.db_table)
    for low in range(first, last + 1, batch):
        high = min(low + batch - 1, last)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE e FROM {events} e JOIN {seals} s ON s.event_id = e.id WHERE s.position BETWEEN %s AND %s",
                [low, high],
            )
            deleted += cursor.rowcount
            cursor.execute(f"DELETE FROM {seals} WHERE position BETWEEN %s AND %s", [low, high])  # noqa: S608
    return deleted
