"""FHIR sync use cases: write one entity to the FHIR server, dead-letter it, replay, discard, reconcile.

Idempotent by construction: the first write is a conditional create on our identifier (a retry, a
redelivery or a racing worker finds the resource already there and writes nothing), later writes are
updates with If-Match on the version we last wrote, and the mapping row remembers the hash of what was
sent, so an unchanged entity is not sent again.
"""

import functools
import hashlib
import json
import logging
import operator
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from fhirclient.models.fhirabstractresource import FHIRAbstractResource

from audit.client import AuditClient
from audit.models import Action
from core import outbox
from core.errors import InvalidInput, check_transition
from core.http import ExternalSystemError
from core.messaging.names import DEAD_LETTER_EXCHANGE, FHIR_SYNC_DEAD, FHIR_SYNC_MANY_TASK, FHIR_SYNC_TASK
from core.messaging.publisher import Publisher, PublishError
from core.outage import dependency_of

from . import metrics
from .clients.hapi_client import (
    FhirAuthRefused,
    FhirInvalid,
    FhirMultipleMatches,
    FhirVersionConflict,
    HAPIClient,
    entry_location,
    identifier_query,
)
from .identifiers import SYSTEMS
from .models import DeadLetter, FhirMapping, PendingSync
from .transforms import EntitySpec, TransformError, get_spec

logger = logging.getLogger(__name__)


class Permanent(Exception):
    """Retrying cannot help (400/422, several matches, an entity that cannot be transformed)."""

    def __init__(self, reason: str, *, cause: Exception | None = None):
        super().__init__(reason)
        self.cause = cause


@dataclass(frozen=True)
class SyncResult:
    entity_type: str
    entity_id: str
    outcome: str  # created, matched, updated, unchanged, missing
    reference: str = ""
    version: str = ""


def is_retryable(exc: Exception) -> bool:
    """Connection errors, timeouts, 5xx, 429, a circuit that is open, a version conflict (re-read and try
    again): worth retrying. 400/422, several matches, and a token refused again after the HAPI client's one
    refresh-and-retry (credentials or scopes: a configuration problem) are not."""
    if isinstance(exc, FhirInvalid | FhirMultipleMatches | FhirAuthRefused | Permanent | TransformError):
        return False
    if isinstance(exc, FhirVersionConflict):
        return True
    if isinstance(exc, ExternalSystemError):
        status = exc.status_code
        return status is None or status >= 500 or status == 429 or status in (408, 404, 410)
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


def content_hash(resource: FHIRAbstractResource) -> str:
    return body_hash(resource.as_json())


def body_hash(body: dict) -> str:
    """content_hash of a resource already serialised (as_json)."""
    body = {name: value for name, value in body.items() if name != "meta"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _client() -> HAPIClient:
    return HAPIClient()


def mapping_for(entity_type: str, entity_id: Any) -> FhirMapping | None:
    return FhirMapping.objects.filter(entity_type=entity_type, entity_id=str(entity_id)).first()


class _Sync:
    """One sync run: the entity, its dependencies first, one client for all writes."""

    def __init__(self, client: HAPIClient | None = None):
        self.client = client or _client()
        self._stack: list[tuple[str, str]] = []

    def ref(self, entity_type: str, entity_id: Any) -> dict:
        mapping = mapping_for(entity_type, entity_id)
        if mapping is None:  # the target must exist before a reference to it is written (HAPI-1094)
            result = self.sync(entity_type, entity_id)
            if result.outcome == "missing":
                raise Permanent(f"{entity_type}:{entity_id} is referenced but does not exist")
            mapping = mapping_for(entity_type, entity_id)
        return {"reference": mapping.reference}

    def resource_for(self, spec: EntitySpec, entity: Any) -> FHIRAbstractResource:
        for dep_type, dep_id in spec.dependencies(entity):
            self.ref(dep_type, dep_id)
        return spec.transform(entity, self.ref)

    def sync(self, entity_type: str, entity_id: Any, *, force: bool = False) -> SyncResult:
        key = (entity_type, str(entity_id))
        if key in self._stack:
            raise Permanent(f"reference cycle through {entity_type}:{entity_id}")
        self._stack.append(key)
        try:
            return self._sync(entity_type, str(entity_id), force=force)
        finally:
            self._stack.pop()

    def _sync(self, entity_type: str, entity_id: str, *, force: bool) -> SyncResult:
        spec = get_spec(entity_type)
        entity = spec.load(entity_id)
        if entity is None:
            logger.info("fhir sync: %s:%s no longer exists; nothing to send", entity_type, entity_id)
            return SyncResult(entity_type, entity_id, "missing")
        resource = self.resource_for(spec, entity)
        digest = content_hash(resource)
        mapping = mapping_for(entity_type, entity_id)
        if mapping is not None and mapping.content_hash == digest and not force:
            return SyncResult(entity_type, entity_id, "unchanged", mapping.reference, mapping.fhir_version)

        if mapping is not None:
            written, outcome = self._update(resource, mapping.fhir_id, mapping.fhir_version), "updated"
        elif spec.client_id is not None:
            resource.id = spec.client_id(entity)
            written, outcome = self.client.update(resource), "created"
        else:
            system, value = SYSTEMS[spec.resource_type], spec.identifier_value(entity)
            written = self.client.conditional_create(resource, system, value)
            outcome = "created" if written.created else "matched"
            if not written.created and written.resource is not None and content_hash(_bare(written.resource)) != digest:
                written, outcome = self._update(resource, written.id, written.version), "updated"
        self._save_mapping(spec, entity_type, entity_id, written.id, written.version, digest)
        metrics.SYNCED.labels(spec.resource_type, outcome).inc()
        return SyncResult(entity_type, entity_id, outcome, f"{spec.resource_type}/{written.id}", written.version)

    def _update(self, resource: FHIRAbstractResource, fhir_id: str, version: str):
        resource.id = fhir_id
        try:
            return self.client.update(resource, if_match_version=version)
        except FhirVersionConflict:  # someone else wrote it meanwhile: ours is the newer content, re-read once
            current = self.client.version_of(resource.resource_type, fhir_id)
            return self.client.update(resource, if_match_version=current)

    @staticmethod
    def _save_mapping(spec, entity_type, entity_id, fhir_id, version, digest) -> None:
        values = {
            "resource_type": spec.resource_type,
            "fhir_id": fhir_id,
            "fhir_version": version,
            "content_hash": digest,
            "synced_at": timezone.now(),
        }
        for _attempt in range(2):  # a racing worker may insert the row between our lookup and insert
            try:
                FhirMapping.objects.update_or_create(entity_type=entity_type, entity_id=entity_id, defaults=values)
                return
            except IntegrityError:
                continue


def _bare(resource: FHIRAbstractResource) -> FHIRAbstractResource:
    """The stored resource without the server's id and meta, comparable with what we would send."""
    body = resource.as_json()
    body.pop("meta", None)
    body.pop("id", None)
    body.pop("text", None)
    return type(resource)(body, strict=False)


_MISSING_REFERENCE = re.compile(r"HAPI-1094: Resource (\w+)/([A-Za-z0-9.-]+) not found")


def sync_entity_now(entity_type: str, entity_id: Any, *, force: bool = False) -> SyncResult:
    """Write one entity (and what it references) to the FHIR server. Raises on failure (see is_retryable).

    A mapping can outlive its resource (the FHIR server restored from an older backup, or replaced): when
    the server refuses a reference because the resource our mapping names is gone, that mapping is
    forgotten and the sync runs once more, writing the referenced entity again first."""
    started = time.monotonic()
    try:
        try:
            return _Sync().sync(entity_type, entity_id, force=force)
        except FhirInvalid as exc:
            gone = [m.groups() for text in exc.diagnostics if (m := _MISSING_REFERENCE.search(text))]
            stale = FhirMapping.objects.filter(
                functools.reduce(operator.or_, (Q(resource_type=kind, fhir_id=fhir_id) for kind, fhir_id in gone), Q())
            )
            if not gone or not stale.exists():
                raise
            logger.warning(
                "fhir sync %s:%s: mapped resource(s) %s gone from the FHIR server; writing them again",
                entity_type,
                entity_id,
                ", ".join("/".join(g) for g in gone),
            )
            stale.delete()
            return _Sync().sync(entity_type, entity_id, force=force)
    finally:
        metrics.SYNC_DURATION.observe(time.monotonic() - started)


# --- many pending syncs in one transaction Bundle -------------------------------------------------------
Key = tuple[str, str]


@dataclass
class _Planned:
    """One entity's entry in a Bundle: a conditional create on our identifier (first write), a PUT with
    If-Match on the version we last wrote (mapped), or a PUT to its client id (AuditEvent)."""

    key: Key
    spec: EntitySpec
    digest: str
    mapped: bool
    entry: dict


def sync_batch_now(entity_type: str, entity_id: Any, *, claimant: str = "", last_attempt: bool = False) -> SyncResult:
    """Sync this entity together with up to FHIR_BUNDLE_MAX_ENTRIES - 1 other pending ones, in one
    transaction Bundle with `Prefer: return=minimal`; the mappings come from each entry's location.

    The pending rows are claimed in a short transaction (locked with SKIP LOCKED, oldest first), and no
    transaction is held while the FHIR server is called: each call is audited as it happens. While
    another worker's claim on this entity lasts, this one sends other pending entities, or waits, and
    then finds its entity synced; a task that finds its entity synced already sends a Bundle of what is
    still pending. Every write is conditional (create on our identifier, update with If-Match), so a
    Bundle sent again after an unknown outcome writes nothing twice. When the server
    refuses a Bundle (4xx: the whole transaction was rolled back), each entity is sent on its own to find
    the bad one. Errors for this entity are raised as sync_entity_now raises them (the task retries or
    dead-letters it); another entity that fails keeps its row for its own task. `claimant` is the task
    id: a redelivered task takes its own claim back at once."""
    limit = settings.FHIR_BUNDLE_MAX_ENTRIES
    if limit <= 1:
        return sync_entity_now(entity_type, entity_id)
    own: Key = (entity_type, str(entity_id))
    claimant = claimant or uuid.uuid4().hex
    started = time.monotonic()
    try:
        # A task's pending row is committed before its message is published, and deleted only once a sync
        # that began after it has written the entity: without one, another task's Bundle did this sync.
        # (A message queued before there were pending rows finds no mapping, and is sent.)
        if not PendingSync.objects.filter(entity_type=own[0], entity_id=own[1]).exists():
            mapping = mapping_for(*own)
            if mapping is not None:
                _help(own, limit, claimant)
                return SyncResult(*own, "unchanged", mapping.reference, mapping.fhir_version)
        while True:
            rows, own_busy = _claim(own, limit, claimant)
            if not own_busy:
                results = _run_claimed(rows, claimant, own, last_attempt)
                break
            if rows:  # meanwhile, a Bundle of other pending entities
                _run_claimed(rows, claimant, None, last_attempt)
            else:
                time.sleep(0.1)  # until the other worker has sent it
    finally:
        metrics.SYNC_DURATION.observe(time.monotonic() - started)
    outcome = results[own]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def request_syncs(entity_type: str, entity_ids: list) -> None:
    """A bulk sync (a first sync, a reconcile): one `sync_entities` message per FHIR_BUNDLE_MAX_ENTRIES
    entities instead of one per entity, each with its PendingSync rows. Call inside the transaction that
    makes them need a sync; published after it commits."""
    ids = [str(entity_id) for entity_id in entity_ids]
    size = settings.FHIR_BUNDLE_MAX_ENTRIES
    if size <= 1:
        outbox.enqueue_tasks(FHIR_SYNC_TASK, [(entity_type, entity_id) for entity_id in ids])
        return
    outbox.enqueue_tasks(FHIR_SYNC_MANY_TASK, [(entity_type, ids[at : at + size]) for at in range(0, len(ids), size)])


def sync_many_now(entity_type: str, entity_ids: list, *, claimant: str = "") -> dict[str, int]:
    """The entities of one bulk message, sent in Bundles (each entity claimed as sync_batch_now claims).
    An entity that fails here, or that another worker's claim holds this moment, gets a `sync_entity`
    task of its own (that task finds it written, or sends it once the claim ends, with its own retries and
    dead letter): a bulk task never waits for another. Returns how many were written, found written
    already, and handed to their own tasks."""
    claimant = claimant or uuid.uuid4().hex
    keys = {(entity_type, str(entity_id)) for entity_id in entity_ids}
    with transaction.atomic():
        # Not SKIP LOCKED: a row another claim is locking this moment must be seen (as busy, or free once
        # that short transaction ends), never taken for a row gone. Locked in one order: no deadlock.
        locked = (
            PendingSync.objects.select_for_update()
            .filter(entity_type=entity_type, entity_id__in=[entity for _, entity in keys])
            .order_by("pk")
            .values_list("entity_id", "pk", "claimed_by", "claimed_until")
        )
        rows, busy = _free_and_busy(
            (((entity_type, entity), pk, by, until) for entity, pk, by, until in locked), claimant, timezone.now()
        )
        _mark_claimed(rows, claimant)
    counts = {"written": 0, "unchanged": len(keys - rows.keys() - busy), "on_their_own": 0}  # no row: written
    on_their_own = sorted(busy)
    if rows:
        for key, result in _run_claimed(rows, claimant, None, last_attempt=False).items():
            if isinstance(result, SyncResult):
                counts["written" if result.outcome in ("created", "updated") else "unchanged"] += 1
            else:
                on_their_own.append(key)
    if on_their_own:
        outbox.enqueue_tasks(FHIR_SYNC_TASK, on_their_own)
        counts["on_their_own"] = len(on_their_own)
    return counts


def _help(own: Key, limit: int, claimant: str) -> None:
    """A task whose entity another Bundle wrote sends a Bundle of other pending entities, if any: otherwise
    those would wait for their own tasks, behind every message of the entities already written (a bulk
    enqueue of thousands). Their failures stay with their own rows and tasks; this task's own outcome is
    settled, so a down dependency here is only logged."""
    try:
        with transaction.atomic():
            rows = _drain(own, limit, timezone.now(), wait=False)
            _mark_claimed(rows, claimant)
        if rows:
            _run_claimed(rows, claimant, None, last_attempt=False)
    except Exception as exc:
        if not (dependency_of(exc) or isinstance(exc, DatabaseError)):
            raise  # a defect, not an outage: it must not pass for one
        logger.warning("fhir sync: a Bundle of other pending entities failed (%s); their own tasks send them", exc)


def _run_claimed(rows: dict[Key, list[int]], claimant: str, own: Key | None, last_attempt: bool) -> dict:
    """Send the claimed entities; delete the rows of those synced (and of this task's own entity when its
    task gives up on it now), release the others' claims."""
    done: list[Key] = []
    try:
        results = _Batch().run(list(rows))
        done = [key for key, result in results.items() if isinstance(result, SyncResult)]
        outcome = results.get(own) if own else None
        if isinstance(outcome, Exception) and (last_attempt or not is_retryable(outcome)):
            done.append(own)  # its task dead-letters it now: no other Bundle should try it again
        PendingSync.objects.filter(pk__in=[pk for key in done for pk in rows[key]]).delete()
    finally:
        left = [pk for key, pks in rows.items() if key not in done for pk in pks]
        if left:  # for their own tasks (or the next Bundle)
            PendingSync.objects.filter(pk__in=left, claimed_by=claimant).update(claimed_by="", claimed_until=None)
    return results


def _claim_seconds() -> float:
    """How long a claim holds: one Bundle and the single sends after a refusal, normally far less. A worker
    that died holding a claim delays the entities' own tasks by at most this."""
    return 2 * settings.FHIR_TIMEOUT_SECONDS + 10


def _claim(own: Key, limit: int, claimant: str) -> tuple[dict[Key, list[int]], bool]:
    """Claim this entity's pending rows and up to `limit` - 1 other pending entities' (waiting up to
    FHIR_BUNDLE_MAX_WAIT seconds for the Bundle to fill). When another worker's claim on this entity
    lasts: up to `limit` others, and True."""
    with transaction.atomic():
        now = timezone.now()
        locked = (
            PendingSync.objects.select_for_update()
            .filter(entity_type=own[0], entity_id=own[1])
            .values_list("pk", "claimed_by", "claimed_until")
        )
        free, held = _free_and_busy(((own, pk, by, until) for pk, by, until in locked), claimant, now)
        busy = own in held
        rows = {} if busy else {own: free.get(own, [])}  # sent even without a row (a message from before rows)
        rows.update(_drain(own, limit - len(rows), now, wait=not busy))
        _mark_claimed(rows, claimant)
        return rows, busy


def _free_and_busy(locked, claimant: str, now) -> tuple[dict[Key, list[int]], set[Key]]:
    """Locked pending rows (key, pk, claimed_by, claimed_until) split into those this claimant may take, by
    entity, and the entities another live claim holds (none of whose rows are taken)."""
    free: dict[Key, list[int]] = {}
    busy: set[Key] = set()
    for key, pk, by, until in locked:
        if until and until > now and by != claimant:
            busy.add(key)
        else:
            free.setdefault(key, []).append(pk)
    return {key: pks for key, pks in free.items() if key not in busy}, busy


def _mark_claimed(rows: dict[Key, list[int]], claimant: str) -> None:
    """Inside the transaction that locked the rows."""
    if claimed := [pk for pks in rows.values() for pk in pks]:
        until = timezone.now() + timedelta(seconds=_claim_seconds())
        PendingSync.objects.filter(pk__in=claimed).update(claimed_by=claimant, claimed_until=until)


def _drain(own: Key, room: int, now, *, wait: bool) -> dict[Key, list[int]]:
    """Up to `room` other pending entities, oldest first, locked (SKIP LOCKED) and not under a live claim;
    waits up to FHIR_BUNDLE_MAX_WAIT seconds for more to come."""
    found: dict[Key, list[int]] = {}
    deadline = time.monotonic() + (settings.FHIR_BUNDLE_MAX_WAIT if wait else 0)
    while room > 0:
        held = [pk for pks in found.values() for pk in pks]
        pending = (
            PendingSync.objects.select_for_update(skip_locked=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .exclude(entity_type=own[0], entity_id=own[1])
            .exclude(pk__in=held)
            .order_by("pk")
            .values_list("pk", "entity_type", "entity_id")[: 2 * room]
        )
        for pk, kind, entity in pending:
            key = (kind, entity)
            if key in found or len(found) < room:
                found.setdefault(key, []).append(pk)
        if len(found) >= room or time.monotonic() >= deadline:
            break
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return found


class _Batch:
    def __init__(self):
        self.sync = _Sync()

    def run(self, keys: list[Key]) -> dict[Key, SyncResult | Exception]:
        results: dict[Key, SyncResult | Exception] = {}
        planned: list[_Planned] = []
        entities, mappings = _load(keys), _mappings(keys)
        for key in keys:
            try:
                plan = self._plan(key, entities.get(key), mappings.get(key))
            except Exception as exc:
                if dependency_of(exc) or isinstance(exc, DatabaseError):
                    raise
                results[key] = exc
                continue
            if isinstance(plan, SyncResult):
                results[key] = plan
            else:
                planned.append(plan)
        # A reference of another entity in this batch may have been written meanwhile (its own sync first).
        written = _mappings([plan.key for plan in planned if not plan.mapped])
        for plan in [plan for plan in planned if plan.key in written]:
            planned.remove(plan)
            results[plan.key] = self._alone(plan.key)
        if planned:
            results.update(self._send(planned))
        return results

    def _plan(self, key: Key, entity: Any, mapping: FhirMapping | None) -> SyncResult | _Planned:
        entity_type, entity_id = key
        spec = get_spec(entity_type)
        if entity is None:
            logger.info("fhir sync: %s:%s no longer exists; nothing to send", entity_type, entity_id)
            return SyncResult(entity_type, entity_id, "missing")
        body = self.sync.resource_for(spec, entity).as_json()  # validated against the R4 model here
        digest = body_hash(body)
        if mapping is not None and mapping.content_hash == digest:
            return SyncResult(entity_type, entity_id, "unchanged", mapping.reference, mapping.fhir_version)
        kind = spec.resource_type
        if mapping is not None:
            body["id"] = mapping.fhir_id
            request = {"method": "PUT", "url": f"{kind}/{mapping.fhir_id}", "ifMatch": f'W/"{mapping.fhir_version}"'}
        elif spec.client_id is not None:
            body["id"] = spec.client_id(entity)
            request = {"method": "PUT", "url": f"{kind}/{body['id']}"}
        else:
            match = identifier_query(SYSTEMS[kind], spec.identifier_value(entity))
            request = {"method": "POST", "url": kind, "ifNoneExist": match}
        entry = {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": body, "request": request}
        return _Planned(key, spec, digest, mapping is not None, entry)

    def _send(self, planned: list[_Planned]) -> dict[Key, SyncResult | Exception]:
        try:
            # Each resource was validated by as_json() when planned: the Bundle is not parsed again.
            answer = self.sync.client.transaction([plan.entry for plan in planned], validate=False)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if status is not None and 400 <= status < 500 and status not in (401, 403, 408, 429):
                # The whole transaction was rolled back: find the bad entity (or entities) one at a time.
                logger.info("fhir sync: a Bundle of %d was refused (%s); sending each on its own", len(planned), exc)
                metrics.BUNDLE_REFUSED.inc()
                return {plan.key: self._alone(plan.key) for plan in planned}
            return {plan.key: exc for plan in planned}
        results: dict[Key, SyncResult | Exception] = {}
        rows, matched = [], []
        now = timezone.now()
        with AuditClient.batched():
            for plan, entry in zip(planned, answer["entry"], strict=True):
                fhir_id, version, status = entry_location(entry)
                kind, request = plan.spec.resource_type, plan.entry["request"]
                # The Bundle's POST is audited by core.http (one EXTERNAL_CALL); each resource it wrote here.
                AuditClient.log_event(
                    Action.CREATE if status == 201 else Action.UPDATE,
                    system="fhir",
                    endpoint=f"{request['method']} {_base_path()}/{request['url']}",
                    resource_type=kind,
                    resource_id=fhir_id,
                    status_code=status,
                    detail={"bundle": True},
                )
                # A conditional create that matched says nothing about the stored content (minimal answer):
                # its mapping is saved without a hash, and the single path compares and updates if needed.
                is_match = request["method"] == "POST" and status != 201
                rows.append(
                    FhirMapping(
                        entity_type=plan.key[0],
                        entity_id=plan.key[1],
                        resource_type=kind,
                        fhir_id=fhir_id,
                        fhir_version=version,
                        content_hash="" if is_match else plan.digest,
                        synced_at=now,
                    )
                )
                if is_match:
                    matched.append(plan.key)
                    continue
                outcome = "updated" if plan.mapped else "created"
                metrics.SYNCED.labels(kind, outcome).inc()
                results[plan.key] = SyncResult(*plan.key, outcome, f"{kind}/{fhir_id}", version)
            # One statement for all the mappings: inserted, or updated where the entity has one already.
            FhirMapping.objects.bulk_create(
                rows,
                update_conflicts=True,
                update_fields=["resource_type", "fhir_id", "fhir_version", "content_hash", "synced_at"],
            )
        metrics.BUNDLE_ENTRIES.observe(len(planned))
        for key in matched:
            results[key] = self._alone(key)
        return results

    @staticmethod
    def _alone(key: Key) -> SyncResult | Exception:
        try:
            return sync_entity_now(*key)
        except Exception as exc:
            if dependency_of(exc) or isinstance(exc, DatabaseError):
                raise
            return exc


def _load(keys: list[Key]) -> dict[Key, Any]:
    """The entities, one query per entity type (those with a loader of their own one by one)."""
    found: dict[Key, Any] = {}
    by_type: dict[str, list[str]] = {}
    for entity_type, entity_id in keys:
        by_type.setdefault(entity_type, []).append(entity_id)
    for entity_type, ids in by_type.items():
        try:
            spec = get_spec(entity_type)
        except TransformError:
            continue  # _plan raises it for each
        if spec.loader is not None:
            found.update({(entity_type, entity_id): spec.load(entity_id) for entity_id in ids})
            continue
        try:
            rows = spec.model()._default_manager.in_bulk(ids)
        except (ValueError, ValidationError):  # an id that is no key of this model: none of them loaded
            rows = {}
        found.update({(entity_type, str(pk)): entity for pk, entity in rows.items()})
    return found


def _mappings(keys: list[Key]) -> dict[Key, FhirMapping]:
    if not keys:
        return {}
    wanted = set(keys)
    candidates = FhirMapping.objects.filter(
        entity_type__in={kind for kind, _ in keys}, entity_id__in={entity for _, entity in keys}
    )  # one index range instead of an OR per key; the pairs are picked out here
    return {key: m for m in candidates if (key := (m.entity_type, m.entity_id)) in wanted}


def _base_path() -> str:
    from urllib.parse import urlsplit

    return urlsplit(settings.FHIR_BASE_URL).path.rstrip("/")


# --- asking for a sync (through the outbox: never lost, even while RabbitMQ is down) -------------------
def request_sync(*, entity_type: str, entity_id: Any, actor: Any = None) -> None:
    """Queue a sync of one entity. Call inside the transaction that changed it; the message is published
    after commit, or by the outbox relay if RabbitMQ is down."""
    get_spec(entity_type)  # unknown types are refused here, not later in a worker
    with transaction.atomic():
        outbox.enqueue_task(FHIR_SYNC_TASK, entity_type, str(entity_id))


# --- dead letters --------------------------------------------------------------------------------------
def dead_letter_record(
    *, entity_type: str, entity_id: Any, exc: Exception, attempts: int, retryable: bool, task_id: str = ""
) -> DeadLetter:
    """Record (or refresh the open record of) an entity the sync gave up on, then put a message on the
    FHIR dead-letter queue for operators' tooling. The database row is the source of truth."""
    try:
        resource_type = get_spec(entity_type).resource_type
    except TransformError:
        resource_type = ""
    outcome = getattr(exc, "outcome", None) or getattr(getattr(exc, "cause", None), "outcome", None)
    fields = {
        "resource_type": resource_type,
        "reason": str(getattr(exc, "detail", "") or exc)[:4000] or exc.__class__.__name__,
        "error_class": exc.__class__.__name__,
        "http_status": getattr(exc, "status_code", None),
        "operation_outcome": outcome,
        "attempts": attempts,
        "retryable": retryable,
        "task_id": task_id or "",
    }
    with transaction.atomic():
        letter = (
            DeadLetter.objects.select_for_update()
            .filter(entity_type=entity_type, entity_id=str(entity_id), status=DeadLetter.Status.OPEN)
            .first()
        )
        if letter is None:
            letter = DeadLetter.objects.create(entity_type=entity_type, entity_id=str(entity_id), **fields)
        else:
            for name, value in fields.items():
                setattr(letter, name, value)
            letter.save()
    metrics.DEAD_LETTERED.labels(resource_type or "unknown").inc()
    logger.warning("fhir sync dead-lettered %s:%s: %s", entity_type, entity_id, fields["reason"])
    _publish_dead_letter(letter)
    return letter


def _publish_dead_letter(letter: DeadLetter) -> None:
    publisher = Publisher(settings.RABBITMQ_URL, exchange=DEAD_LETTER_EXCHANGE)
    try:
        publisher.publish(
            FHIR_SYNC_DEAD,
            {
                "dead_letter_id": letter.pk,
                "entity_type": letter.entity_type,
                "entity_id": letter.entity_id,
                "resource_type": letter.resource_type,
                "reason": letter.reason,
                "http_status": letter.http_status,
                "operation_outcome": letter.operation_outcome,
                "attempts": letter.attempts,
            },
            message_id=f"fhir-dead-letter-{letter.pk}-{letter.updated_at.timestamp():.0f}",
        )
    except PublishError as exc:  # the row is kept; the queue message is a notification
        logger.warning("dead letter %s recorded but not published to %s: %s", letter.pk, DEAD_LETTER_EXCHANGE, exc)
    finally:
        publisher.close()


def dead_letter_check_move(letter: DeadLetter, new: str) -> None:
    check_transition(_("dead letter %(id)s") % {"id": letter.pk}, letter.status, new, DeadLetter.TRANSITIONS)


def dead_letter_replay(*, actor: Any, letters: list[DeadLetter]) -> int:
    """Queue each open dead letter's entity again (through the outbox) and mark it replayed; the others
    are skipped (a list may hold letters resolved meanwhile)."""
    replayed = 0
    with transaction.atomic():
        for letter in DeadLetter.objects.select_for_update().filter(
            pk__in=[letter.pk for letter in letters], status=DeadLetter.Status.OPEN
        ):
            letter.status = DeadLetter.Status.REPLAYED
            letter.resolved_at = timezone.now()
            letter.resolved_by = getattr(actor, "username", "") or "system"
            letter.replay_count += 1
            letter.save()
            outbox.enqueue_task(FHIR_SYNC_TASK, letter.entity_type, letter.entity_id)
            AuditClient.log_event(
                Action.UPDATE,
                resource_type="fhir_dead_letter",
                resource_id=letter.pk,
                detail={"operation": "replay", "entity": f"{letter.entity_type}:{letter.entity_id}"},
                actor=actor,
            )
            replayed += 1
    return replayed


def dead_letter_discard(*, actor: Any, letter: DeadLetter, reason: str) -> DeadLetter:
    if not reason.strip():
        raise InvalidInput(_("A reason is required to discard a dead letter."), field="reason")
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(pk=letter.pk)
        dead_letter_check_move(letter, DeadLetter.Status.DISCARDED)
        letter.status = DeadLetter.Status.DISCARDED
        letter.discard_reason = reason.strip()
        letter.resolved_at = timezone.now()
        letter.resolved_by = getattr(actor, "username", "") or "system"
        letter.save()
        AuditClient.log_event(
            Action.DELETE,
            resource_type="fhir_dead_letter",
            resource_id=letter.pk,
            detail={"operation": "discard", "entity": f"{letter.entity_type}:{letter.entity_id}", "reason": reason},
            actor=actor,
        )
    return letter


# --- reconciliation ------------------------------------------------------------------------------------
RECONCILED_TYPES = ("emr.patient", "radiology.order", "radiology.study", "ai.result", "audit.event")


def _candidates(entity_type: str, limit: int):
    spec = get_spec(entity_type)
    model = spec.model()
    if model is None:
        return []
    queryset = model._default_manager.all()
    if entity_type == "audit.event":
        if not settings.FHIR_SYNC_AUDIT_EVENTS:
            return []
        # The sync's own calls to the FHIR server are audited too; sending those would never end.
        queryset = queryset.exclude(system="fhir")
    if entity_type == "radiology.study":
        # A study waiting for its patient (RECONCILE, CONFLICT) has no subject yet; linking queues it.
        queryset = queryset.filter(patient__isnull=False)
    return queryset.order_by("-pk")[:limit]


def reconcile(*, limit: int | None = None) -> dict[str, int]:
    """Queue every entity whose current content hash differs from the one last synced (or that was
    never synced). Entities whose references are not synced yet are queued too: the sync writes the
    targets first. Returns the number queued per entity type."""
    limit = limit or settings.FHIR_SYNC_RECONCILE_LIMIT
    queued: dict[str, int] = {}
    for entity_type in RECONCILED_TYPES:
        spec = get_spec(entity_type)
        entities = list(_candidates(entity_type, limit))
        mappings = {
            m.entity_id: m
            for m in FhirMapping.objects.filter(entity_type=entity_type, entity_id__in=[str(e.pk) for e in entities])
        }
        stale = []
        for entity in entities:
            mapping = mappings.get(str(entity.pk))
            if mapping is None:
                stale.append(entity.pk)
                continue
            try:
                resource = spec.transform(entity, _mapped_ref)
            except (_Unmapped, TransformError):
                stale.append(entity.pk)
                continue
            if content_hash(resource) != mapping.content_hash:
                stale.append(entity.pk)
        open_letters = set(
            DeadLetter.objects.filter(entity_type=entity_type, status=DeadLetter.Status.OPEN).values_list(
                "entity_id", flat=True
            )
        )
        stale = [pk for pk in stale if str(pk) not in open_letters]  # ADMIN decides about those
        if stale:  # a bulk sync: one message per Bundle's worth, published after commit
            with transaction.atomic():
                request_syncs(entity_type, stale)
        queued[entity_type] = len(stale)
        metrics.RECONCILE_QUEUED.labels(spec.resource_type).inc(len(stale))
    return queued


class _Unmapped(Exception):
    pass


def _mapped_ref(entity_type: str, entity_id: Any) -> dict:
    mapping = mapping_for(entity_type, entity_id)
    if mapping is None:
        raise _Unmapped(f"{entity_type}:{entity_id}")
    return {"reference": mapping.reference}
