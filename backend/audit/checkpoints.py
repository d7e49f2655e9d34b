"""Signed checkpoints of the chain's head in write-once object storage: what the database cannot rewrite.

The beat writes the head (position, hash, event id, time) with an HMAC-SHA256 signature made with
AUDIT_CHECKPOINT_KEY, a secret the database never holds, to the audit bucket. That bucket has object
lock: every object version is kept in COMPLIANCE mode for AUDIT_CHECKPOINT_RETENTION_DAYS, so neither
this application nor the store's owner can delete or overwrite it before then (a second PUT of a key
adds a version, a DELETE adds a marker; verification reads every version and reports the markers).
Someone who holds the database but not the key cannot make the chain agree with the checkpoints again;
someone who also holds the key can add checkpoints, but not remove the earlier ones, which then disagree.
A restore of a backup loses the checkpoints signed after its dump: audit.restores records it, signed too.
"""

import base64
import hashlib
import hmac
import io
import json
from dataclasses import dataclass, replace
from datetime import timedelta

import urllib3
from django.conf import settings
from django.utils import timezone
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException
from minio.retention import Retention

from core.storage import storage_client

from . import metrics
from .chain import ChainReport, head, lost_in, seal, verify_chain
from .models import AuditSeal

MISSING = ("NoSuchKey", "NoSuchVersion", "MethodNotAllowed")  # no such object, or a delete marker on top


class CheckpointError(Exception):
    """No checkpoint can be written or read: no key, or the store is unreachable."""


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: str
    event_id: int | None
    signed_at: str
    key: str = ""  # the object's name and version in the store
    version_id: str = ""

    def fields(self) -> dict:
        return {"position": self.position, "hash": self.hash, "event_id": self.event_id, "signed_at": self.signed_at}


def _keys() -> list[bytes]:
    """The signing key first, then older keys still accepted (AUDIT_CHECKPOINT_KEY=new,old,...)."""
    keys = [part.strip().encode() for part in settings.AUDIT_CHECKPOINT_KEY.split(",") if part.strip()]
    if not keys:
        raise CheckpointError("AUDIT_CHECKPOINT_KEY is not set: checkpoints can be neither signed nor checked")
    return keys


def _sign(fields: dict, key: bytes) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _checksum(body: bytes) -> dict[str, str]:
    """Headers: a write to a bucket with object lock must carry a checksum (S3, MinIO and moto refuse it)."""
    return {
        "x-amz-sdk-checksum-algorithm": "SHA256",
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }


def object_name(position: int) -> str:
    return f"{settings.AUDIT_CHECKPOINT_PREFIX}{position:015d}.json"


def bucket() -> str:
    """The audit bucket: checkpoints and archives (audit.archive), object-locked."""
    return settings.S3_BUCKETS["audit"]


def sign(fields: dict) -> str:
    """The signature of `fields` with the signing key (the first of AUDIT_CHECKPOINT_KEY)."""
    return _sign(fields, _keys()[0])


def signed_by_a_key(fields: dict, signature: str) -> bool:
    """Whether `signature` was made over `fields` with one of the accepted keys."""
    return any(hmac.compare_digest(_sign(fields, key), signature) for key in _keys())


def write(position: int | None = None) -> Checkpoint | None:
    """Seal, then checkpoint the head (or the given position: an archive's last) unless it is checkpointed
    already. Returns what was written."""
    _keys()
    seal()
    if position is None:
        position, chain_hash = head()
    else:
        chain_hash = AuditSeal.objects.filter(position=position).values_list("hash", flat=True).get()
    if position == 0:
        return None
    name = object_name(position)
    try:
        # A position checkpointed with another hash was lost in a restore (audit.restores) and reached again
        # by the chain that went on from the restored end: it gets a new version; the old one stays.
        if _stored_hash(name) == chain_hash:
            return None
        event_id = AuditSeal.objects.filter(position=position).values_list("event_id", flat=True).first()
        checkpoint = Checkpoint(position, chain_hash, event_id, timezone.now().isoformat(timespec="microseconds"))
        version_id = put_signed(name, checkpoint.fields())
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise CheckpointError(f"the checkpoint store is unreachable: {exc}") from exc
    return replace(checkpoint, key=name, version_id=version_id)


def _stored_hash(name: str) -> str | None:
    """The hash in the newest version of the checkpoint `name`; None when there is none."""
    try:
        response = storage_client().get_object(bucket(), name)
    except MinioException as exc:
        if getattr(exc, "code", "") in MISSING:
            return None
        raise
    try:
        return json.loads(response.read()).get("hash")
    except (ValueError, AttributeError):
        return None
    finally:
        response.close()
        response.release_conn()


def put_signed(name: str, fields: dict) -> str:
    """Store `fields` with their signature as `name`, locked in COMPLIANCE mode for
    AUDIT_CHECKPOINT_RETENTION_DAYS (a checkpoint, an acknowledged restore). Returns the version id; the
    store's errors are the caller's."""
    body = json.dumps({**fields, "signature": sign(fields)}).encode()
    until = timezone.now() + timedelta(days=settings.AUDIT_CHECKPOINT_RETENTION_DAYS)
    result = storage_client().put_object(
        bucket(),
        name,
        io.BytesIO(body),
        len(body),
        content_type="application/json",
        metadata=_checksum(body),
        retention=Retention(COMPLIANCE, until),
    )
    return result.version_id or ""


def signed_versions(
    prefix: str, parse, *, what: str, written_by: str, suffix: str = "", after: str = ""
) -> tuple[list, list[str]]:
    """Every version of every object under `prefix` (those ending in `suffix`, and only those named after
    `after` when it is given: the store skips the others unlisted), each read and given to
    `parse(body, name, version_id, stored_at)` (the store's own time of the version), which returns the
    signed object or None; and the problems: versions
    with no valid signature, objects hidden by a delete marker (`what` and `written_by` name them). The
    checkpoints and the archive manifests (audit.archive) are both read so. An unreachable store raises
    CheckpointError."""
    _keys()  # no key: nothing can be checked, say so before reading anything
    client = storage_client()
    found, problems = [], []
    try:
        listing = client.list_objects(
            bucket(), prefix=prefix, recursive=True, include_version=True, start_after=after or None
        )
        for item in listing:
            # S3 and MinIO list the keys after the marker; moto also lists older versions of the marker itself.
            if not item.object_name.endswith(suffix) or (after and item.object_name <= after):
                continue
            where = f"{what} {item.object_name} (version {item.version_id})"
            if item.is_delete_marker:
                problems.append(f"{where} is a delete marker: someone tried to delete the {what}")
                continue
            response = client.get_object(bucket(), item.object_name, version_id=item.version_id)
            try:
                body = response.read()
            finally:
                response.close()
                response.release_conn()
            parsed = parse(body, item.object_name, item.version_id or "", item.last_modified)
            if parsed is None:
                problems.append(f"{where} has no valid signature: it was not written by {written_by}")
            else:
                found.append(parsed)
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise CheckpointError(f"the {what} store is unreachable: {exc}") from exc
    return found, problems


def read(*, above: int = 0) -> tuple[list[Checkpoint], list[str]]:
    """Every version of every checkpoint (of the positions above `above` only, when given), with a
    signature made by one of the keys; and the problems (signed_versions)."""
    return signed_versions(
        settings.AUDIT_CHECKPOINT_PREFIX,
        _parse,
        what="checkpoint",
        written_by="the checkpoint task",
        after=object_name(above) if above else "",
    )


def _parse(body: bytes, name: str, version_id: str, stored_at=None) -> Checkpoint | None:
    try:
        data = json.loads(body)
        checkpoint = Checkpoint(
            int(data["position"]), str(data["hash"]), data["event_id"], str(data["signed_at"]), name, version_id
        )
        signature = str(data["signature"])
    except (ValueError, KeyError, TypeError):
        return None
    # The name is not signed: a valid body copied under another position's name is a forgery too.
    valid = signed_by_a_key(checkpoint.fields(), signature)
    return checkpoint if valid and object_name(checkpoint.position) == name else None


def verify(*, archives: bool = False, restored: bool = False) -> ChainReport:
    """The chain against the checkpoints, from the archived months' signed manifests on (audit.archive).

    Without `archives` (the hourly beat): every manifest, and only the checkpoints above the last archived
    position. Those inside the archives add nothing here: the database's chain must match each archive's
    signed last hash, and the checkpoints inside are compared with the archives' content by the full pass.
    So the run reads what the database still holds, not everything the store has kept for years.
    `archives`: every checkpoint version too, and every archived link recomputed (reads every archive).
    The outcome is exported as metrics (audit.metrics).

    (The listing starts after the name of the checkpoint at the last archived position, which archive_next
    always writes: moto, the stand-in, leaves out the first version at or after the marker.)"""
    from . import archive, restores

    try:
        manifests, archive_problems = archive.read()
        above = manifests[-1].last_position if manifests and not archives else 0
        checkpoints, problems = read(above=above)
        acknowledged, restore_problems = restores.read()
    except CheckpointError as exc:  # the database's own record of the archives, unsigned: an error at best
        report = verify_chain(archives=archive.recorded(), restored=restored)
        report = report if report.reason else replace(report, error=str(exc))
    else:
        problems += archive_problems + restore_problems
        report = verify_chain(checkpoints, archives=manifests, restores=acknowledged, restored=restored)
        if report.intact and archives:
            kept = [c for c in checkpoints if lost_in(c.position, c.signed_at, acknowledged) is None]
            for manifest in manifests:
                if reason := archive.verify_contents(manifest, kept):
                    report = replace(report, reason=reason, broken_at=manifest.first_position)
                    break
        if report.intact and problems:
            report = replace(report, reason=problems[0] + (f" (and {len(problems) - 1} more)" if problems[1:] else ""))
    metrics.verified(report)
    return report
