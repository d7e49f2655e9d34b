"""`AuditClient.log_event(...)`: the one way anything in the CDSS writes to the audit trail.

Services call it explicitly, reads of patient data included (signals cannot see reads). The caller's
address, user agent and request id come from the request context (core.context); the actor is the
context's user unless a service passes one (a Celery task acting for a user, a service account).

Writing is one INSERT, no lock and no read of the chain, and always committed before the request answers
(a process killed after answering loses nothing). Inside a transaction the event commits with it. In a
request outside one (a read of patient data, the common case), the process's writer thread appends it
on a connection of its own while the view goes on with its work, and audit.middleware waits for the commit
before the answer leaves: the hospital waits for the slower of the two, not for their sum. The sealer
(audit.chain.seal, on the beat) links committed events into the hash chain afterwards.
"""

import functools
import logging
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection
from django.utils import timezone

from core import context
from core.queries import given

from .models import Action, ActorType, AuditEvent, Outcome


def actor_fields(actor: Any, *, roles: bool = True) -> dict[str, Any]:
    """Who acted. With roles=False a user's roles are left None, for the writer thread to look up."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {
            "actor_type": ActorType.ANONYMOUS if actor is not None else ActorType.SYSTEM,
            "actor_id": None,
            "actor_username": "",
            "actor_roles": [],
        }
    return {
        "actor_type": ActorType.SERVICE if getattr(actor, "is_service_account", False) else ActorType.USER,
        "actor_id": actor.pk,
        "actor_username": actor.get_username(),
        "actor_roles": sorted(getattr(actor, "roles", ())) if roles else None,
    }


class AuditClient:
    @staticmethod
    def log_event(
        action: Action | str,
        *,
        resource_type: str = "",
        resource_id: str | int = "",
        patient_id: str = "",
        outcome: Outcome | str = Outcome.SUCCESS,
        status_code: int | None = None,
        system: str = "",
        endpoint: str = "",
        detail: dict[str, Any] | None = None,
        actor: Any = None,
        username: str = "",
    ) -> AuditEvent:
        """Append one event. `username` names who tried when there is no actor (a failed login)."""
        request = context.current()
        who = actor if actor is not None else request.user
        batch, handed_over = _batch.get(), _handed_over.get()
        to_writer = batch is None and handed_over is not None and not connection.in_atomic_block
        fields = actor_fields(who, roles=not to_writer)  # the roles' query, if any, runs on the writer
        if username and not fields["actor_username"]:
            fields["actor_username"] = username[:150]
        event = AuditEvent(
            occurred_at=timezone.now(),
            action=Action(action),
            resource_type=resource_type,
            resource_id=str(resource_id),
            patient_id=patient_id or "",
            outcome=Outcome(outcome),
            status_code=status_code,
            source_ip=request.source_ip,
            user_agent=request.user_agent,
            request_id=request.request_id,
            system=system,
            endpoint=endpoint[:512],
            detail=detail or {},
            **fields,
        )
        if batch is not None:
            batch.add(event)
        elif to_writer:
            handed_over.append(_writer().submit(event, who))
        else:
            _append([event])
        return event

    @staticmethod
    def log_list_read(*, user: Any, resource_type: str, patient_id: str = "", filters: dict[str, Any]) -> AuditEvent:
        """One READ event for a list, with the filters that were given (empty ones left out); the patient when
        the list is one patient's."""
        detail = {
            name: value if isinstance(value, str | int | bool) else str(value) for name, value in given(filters).items()
        }
        return AuditClient.log_event(
            Action.READ, actor=user, resource_type=resource_type, patient_id=patient_id, detail=detail
        )

    @staticmethod
    @contextmanager
    def batched(size: int = 100) -> Iterator[None]:
        """Events logged inside the block (by this context and threads started with a copy of it) are
        appended `size` at a time and at the end, each group in one INSERT. For work that makes many
        external calls in a row (an upload's one Orthanc call per instance): one commit, so one disk
        flush, per group instead of per event. Events are written before the block ends, so before the
        request answers."""
        batch = _Batch(size)
        token = _batch.set(batch)
        try:
            yield
        finally:
            _batch.reset(token)
            batch.flush()

    @staticmethod
    @contextmanager
    def committed_at_exit() -> Iterator[None]:
        """Events logged in autocommit inside the block go to the writer thread; leaving the block waits
        until each is committed, and raises the writer's error if one could not be (the caller must then
        not answer as if it had been audited)."""
        handed_over: list[_Written] = []
        token = _handed_over.set(handed_over)
        try:
            yield
        finally:
            _handed_over.reset(token)
            for written in handed_over:
                written.wait()


class _Batch:
    def __init__(self, size: int):
        self.size = size
        self.events: list[AuditEvent] = []
        self.lock = threading.Lock()

    def add(self, event: AuditEvent) -> None:
        with self.lock:
            self.events.append(event)
            full = len(self.events) >= self.size
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            events, self.events = self.events, []
        if events:
            _append(events)


_batch: ContextVar[_Batch | None] = ContextVar("audit_batch", default=None)
_handed_over: ContextVar["list[_Written] | None"] = ContextVar("audit_handed_over", default=None)
logger = logging.getLogger(__name__)


class _Written:
    """An event handed to the writer; wait() returns once it is committed."""

    TIMEOUT_SECONDS = 30

    def __init__(self, event: AuditEvent, actor: Any):
        self.event, self.actor = event, actor
        self.done = threading.Event()
        self.error: BaseException | None = None

    def wait(self) -> None:
        if not self.done.wait(self.TIMEOUT_SECONDS):
            raise TimeoutError("the audit writer did not commit the event in time")
        if self.error is not None:
            raise self.error


class _Writer:
    """One thread per process with its own database connection. It appends whatever requests handed over
    since its last write in one INSERT (several at once when threads of a process log together), retrying
    once on a fresh connection when the old one was lost (the database restarted)."""

    def __init__(self):
        self.queue: queue.SimpleQueue[_Written] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="audit-writer", daemon=True).start()

    def submit(self, event: AuditEvent, actor: Any) -> _Written:
        written = _Written(event, actor)
        self.queue.put(written)
        return written

    def _run(self) -> None:
        while True:
            group = [self.queue.get()]
            while len(group) < 100:
                try:
                    group.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            error = self._write(group)
            for written in group:
                # One event the database refuses must not fail the others written with it.
                written.error = error and (self._write([written]) if len(group) > 1 else error)
                written.done.set()

    @staticmethod
    def _write(group: list[_Written]) -> BaseException | None:
        for attempt in (1, 2):
            try:
                for written in group:
                    if written.event.actor_roles is None:
                        written.event.actor_roles = actor_fields(written.actor)["actor_roles"]
                _append([written.event for written in group])
                return None
            except Exception as exc:  # handed to the waiting request, which answers 503 naming the database
                connection.close()  # the next attempt opens a fresh one
                if attempt == 2:
                    logger.error("audit events could not be written: %s", exc)
                    return exc
        return None


_writers: dict[int, _Writer] = {}
_writers_lock = threading.Lock()


def _writer() -> _Writer:
    """This process's writer, started on first use (a forked gunicorn worker starts its own)."""
    pid = os.getpid()
    with _writers_lock:
        if pid not in _writers:
            _writers.clear()
            _writers[pid] = _Writer()
        return _writers[pid]


def _append(events: list[AuditEvent]) -> None:
    """One INSERT for all of them, so one round trip and, in autocommit, one commit; the new ids are set
    on the events. Written as SQL once rather than through the ORM's compiler: this runs for every
    audited request, and the values are still prepared by each field as the ORM would."""
    fields = _insert_fields()
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for event in events for field in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"{_insert_prefix()} {', '.join([row] * len(events))} RETURNING id"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        for event, (pk,) in zip(events, cursor.fetchall(), strict=True):
            event.pk, event._state.adding, event._state.db = pk, False, connection.alias


@functools.cache
def _insert_fields() -> tuple:
    return tuple(field for field in AuditEvent._meta.concrete_fields if not field.primary_key)


@functools.cache
def _insert_prefix() -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in _insert_fields())
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({names}) VALUES"
