"""`AuditClient.log_event(...)`: the one way anything in the CDSS writes to the audit trail.

Services call it explicitly, reads of patient data included (signals cannot see reads). The caller's
address, user agent and request id come from the request context (core.context); the actor is the
context's user unless a service passes one (a Celery task acting for a user, a service account).

Writing is one INSERT, no lock and no read of the chain, and always committed before the request answers
(a process killed after answering loses nothing). Inside a transaction the event commits with it. In a
request outside one (a read of patient data, the common case), the INSERT is sent on a second connection
of the request's thread the moment the event is logged, and its answer is read by audit.middleware just
before the answer leaves: the database inserts and commits the event while the view goes on with its
work. No thread does this: PyMySQL is pure Python, and a writer thread made every query of the view wait
for the interpreter's lock in turn. The sealer (audit.chain.seal, on the beat) links committed events
into the hash chain afterwards.
"""

import contextlib
import functools
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.utils import timezone
from pymysql.constants import COMMAND

from core import context
from core.queries import given

from .models import Action, ActorType, AuditEvent, Outcome


def actor_fields(actor: Any) -> dict[str, Any]:
    """Who acted. A user's roles not loaded yet (by a permission check) are left None: the event's INSERT
    reads them itself (_insert_statement), saving the request a query."""
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
        "actor_roles": sorted(actor.roles) if "roles" in getattr(actor, "__dict__", {}) else None,
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
        batch, scope = _batch.get(), _scope.get()
        fields = actor_fields(who)
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
        elif scope is not None and scope.thread == threading.get_ident() and not connection.in_atomic_block:
            scope.errors.extend(_pipeline().send(event))
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
        """Events this thread logs in autocommit inside the block are sent as they are logged; leaving the
        block reads their answers, and raises the first error if one could not be committed (the caller
        must then not answer as if it had been audited)."""
        scope = _Scope()
        token = _scope.set(scope)
        try:
            yield
        finally:
            _scope.reset(token)
            if pipeline := _pipeline(open_new=False):
                scope.errors.extend(pipeline.settle())
            if scope.errors:
                raise scope.errors[0]


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
logger = logging.getLogger(__name__)


class _Scope:
    """One request's events sent ahead (by the thread that opened it) and the errors met committing them."""

    def __init__(self):
        self.thread = threading.get_ident()
        self.errors: list[BaseException] = []


_scope: ContextVar[_Scope | None] = ContextVar("audit_scope", default=None)


class _Pipeline:
    """A thread's second database connection, on which one INSERT at a time is in flight: sent when the
    event is logged, its answer read (settled) before the next is sent and before the request answers.
    A statement whose connection was lost is sent once more on a fresh connection."""

    def __init__(self):
        self.db = connections.create_connection(DEFAULT_DB_ALIAS)
        self.in_flight: tuple[AuditEvent, str] | None = None

    def send(self, event: AuditEvent) -> list[BaseException]:
        """Send the event's INSERT; returns the error of the one sent before it, if that failed."""
        errors = self.settle()
        with self.db.wrap_database_errors:
            self.db.ensure_connection()
            sql = self.db.connection.cursor().mogrify(*_insert_statement([event], self.db))
        self.in_flight = (event, sql)
        with contextlib.suppress(DatabaseError):  # settle() sends it again, on a fresh connection
            self._execute(sql)
        return errors

    def settle(self) -> list[BaseException]:
        if self.in_flight is None:
            return []
        (event, sql), self.in_flight = self.in_flight, None
        for attempt in (1, 2):
            try:
                if attempt == 2:
                    self._execute(sql)
                _inserted([event], self._answer(), DEFAULT_DB_ALIAS)
                return []
            except DatabaseError as exc:  # handed to the request, which answers 503 naming the database
                self.db.close()  # the next attempt opens a fresh connection
                if attempt == 2:
                    logger.error("an audit event could not be written: %s", exc)
                    return [exc]
        return []

    def _execute(self, sql: str) -> None:
        # PyMySQL's query() is these two steps; the pipeline runs them apart, so the server works on the
        # INSERT (and its commit) while the request runs its own queries on its own connection.
        with self.db.wrap_database_errors:
            self.db.ensure_connection()
            self.db.connection._execute_command(COMMAND.COM_QUERY, sql)

    def _answer(self) -> tuple[tuple[int, str], ...]:
        """The statement's RETURNING rows."""
        with self.db.wrap_database_errors:
            self.db.connection._read_query_result()
            return self.db.connection._result.rows


_local = threading.local()


def _pipeline(*, open_new: bool = True) -> _Pipeline | None:
    """This thread's pipeline, opened on first use (a forked worker opens its own)."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.pid, _local.pipeline = os.getpid(), None
    if _local.pipeline is None and open_new:
        _local.pipeline = _Pipeline()
    return _local.pipeline


def _append(events: list[AuditEvent]) -> None:
    """One INSERT for all of them, so one round trip and, in autocommit, one commit."""
    with connection.cursor() as cursor:
        cursor.execute(*_insert_statement(events, connection))
        _inserted(events, cursor.fetchall(), connection.alias)


def _insert_statement(events: list[AuditEvent], db) -> tuple[str, list]:
    """The INSERT ... RETURNING id, actor_roles of the events and its parameters. Written as SQL once rather
    than through the ORM's compiler: this runs for every audited request, and the values are still prepared
    by each field as the ORM would. Roles left None are read by the statement (User.roles_sql)."""
    rows, values = [], []
    for event in events:
        placeholders = []
        for field in _insert_fields():
            if field.attname == "actor_roles" and event.actor_roles is None:
                sql, params = get_user_model().roles_sql(event.actor_id)
                placeholders.append(sql)
                values.extend(params)
            else:
                placeholders.append("%s")
                values.append(field.get_db_prep_save(getattr(event, field.attname), db))
        rows.append(f"({', '.join(placeholders)})")
    return f"{_insert_prefix()} {', '.join(rows)} RETURNING id, actor_roles", values


def _inserted(events: list[AuditEvent], returned: Iterable[tuple[int, str]], alias: str) -> None:
    """The new ids, and the roles the statement read, set on the events."""
    for event, (pk, roles) in zip(events, returned, strict=True):
        event.pk, event._state.adding, event._state.db = pk, False, alias
        if event.actor_roles is None:
            event.actor_roles = json.loads(roles)


@functools.cache
def _insert_fields() -> tuple:
    return tuple(field for field in AuditEvent._meta.concrete_fields if not field.primary_key)


@functools.cache
def _insert_prefix() -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in _insert_fields())
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({names}) VALUES"
