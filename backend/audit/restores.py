"""Acknowledged restores: the signed record that the database was restored from a backup and lost the chain's
newest events, those sealed after the dump.

A restored chain ends before the checkpoints signed after its dump. `verify_audit_chain --restored` accepts
that once; the hourly verification compares the chain with every checkpoint and would report the lost
tail as a cut, every hour, for ever. `acknowledge` (manage.py audit_acknowledge_restore, which
backup/restore.sh runs after restoring into the application database) writes, to the audit bucket next to
the checkpoints, locked and signed with AUDIT_CHECKPOINT_KEY like them: the restored chain's end
(position, hash), the newest checkpoint it does not reach (what was lost), the backup, who and why, when.

Verification (audit.chain.verify_chain) then leaves out the checkpoints signed before an acknowledgement
at positions beyond its restored end, and names them as lost. The chain must still match the
acknowledgement's own position and hash, and every checkpoint signed after it (the chain goes on from the
restored end and reaches the lost positions again, with other hashes: those are new checkpoints, told
apart by their signed time). An acknowledgement with no valid signature or under a delete marker is
reported as the checkpoints are (checkpoints.signed_versions).
"""

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import urllib3
from django.conf import settings
from django.utils import timezone
from minio.error import MinioException

from . import checkpoints

# How far an acknowledgement's signed time may be from the store's time of writing it (clocks differ a
# little): the signed time decides which checkpoints it covers, so it must be the time it was written.
CLOCK_SKEW = timedelta(minutes=5)


class RestoreError(Exception):
    """No acknowledgement is written: the restored chain does not verify, or no reason was given."""


@dataclass(frozen=True)
class Restore:
    position: int  # the restored chain's end
    hash: str
    lost_position: int  # the newest checkpoint the restored chain does not reach
    lost_hash: str
    backup: str  # the backup's name (its UTC time stamp is part of it)
    by: str
    reason: str
    acknowledged_at: str  # ISO 8601 with microseconds, UTC: ordered against the checkpoints' signed_at
    key: str = ""  # the object's name, version and time of writing in the store (not signed)
    version_id: str = ""
    stored_at: datetime | None = None

    def fields(self) -> dict:
        return {name: value for name, value in asdict(self).items() if name not in ("key", "version_id", "stored_at")}

    @property
    def label(self) -> str:
        return f"the restore of {self.backup} acknowledged at {self.acknowledged_at}"


def object_name(restore: Restore) -> str:
    stamp = datetime.fromisoformat(restore.acknowledged_at).astimezone(UTC)
    return f"{settings.AUDIT_RESTORE_PREFIX}{stamp:%Y%m%dT%H%M%S%fZ}-{restore.position:015d}.json"


def read() -> tuple[list[Restore], list[str]]:
    """Every signed acknowledgement (a version written twice counts once), and the problems: versions with
    no valid signature, acknowledgements hidden by a delete marker, or dated otherwise than the store's
    time of writing them (even with the key, a date in the future would cover checkpoints not signed yet)."""
    found, problems = checkpoints.signed_versions(
        settings.AUDIT_RESTORE_PREFIX, _parse, what="restore acknowledgement", written_by="audit_acknowledge_restore"
    )
    unique: dict[tuple, Restore] = {}
    for restore in found:
        dated = datetime.fromisoformat(restore.acknowledged_at)
        if restore.stored_at is None or abs(dated - restore.stored_at) > CLOCK_SKEW:
            problems.append(
                f"restore acknowledgement {restore.key} (version {restore.version_id}) is dated "
                f"{restore.acknowledged_at} but was stored at {restore.stored_at}: its date was forged"
            )
            continue
        unique.setdefault(tuple(restore.fields().items()), restore)
    return sorted(unique.values(), key=lambda restore: restore.acknowledged_at), problems


def _parse(body: bytes, name: str, version_id: str, stored_at: datetime | None = None) -> Restore | None:
    try:
        data = json.loads(body)
        signature = str(data.pop("signature"))
        restore = Restore(**data)
        dated = datetime.fromisoformat(restore.acknowledged_at).tzinfo is not None
        named = object_name(restore) == name  # the name is not signed: a body copied elsewhere is a forgery
    except (ValueError, KeyError, TypeError):
        return None
    if not dated or not named or not checkpoints.signed_by_a_key(restore.fields(), signature):
        return None
    return replace(restore, key=name, version_id=version_id, stored_at=stored_at)


def acknowledge(*, backup: str, reason: str, by: str) -> Restore | None:
    """Record that the database is a restored backup whose chain ends before the newest checkpoints.
    Refused unless the chain verifies as a restored backup (it matches every checkpoint it reaches).
    Returns what was written, or None when nothing is lost (the chain reaches every checkpoint not
    acknowledged already)."""
    if not reason.strip():
        raise RestoreError("say why the restore lost events (--reason): it is kept with the acknowledgement")
    report = checkpoints.verify(restored=True)
    if report.error and not report.reason:
        raise checkpoints.CheckpointError(report.error)
    if not report.intact:
        raise RestoreError(f"the restored chain does not verify: {report.reason or report.error}")
    if report.lost_after is None:
        return None
    restore = Restore(
        position=report.archived + report.checked,
        hash=report.head_hash,
        lost_position=report.lost_after,
        lost_hash=report.lost_hash,
        backup=backup,
        by=by,
        reason=reason.strip(),
        acknowledged_at=timezone.now().isoformat(timespec="microseconds"),
    )
    try:
        version_id = checkpoints.put_signed(object_name(restore), restore.fields())
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise checkpoints.CheckpointError(f"the checkpoint store is unreachable: {exc}") from exc
    return replace(restore, key=object_name(restore), version_id=version_id)
