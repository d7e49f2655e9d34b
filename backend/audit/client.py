"""`AuditClient.log_event(...)`: the one way anything in the CDSS writes to the audit trail.

Services call it explicitly, reads of patient data included (signals cannot see reads). The caller's
address, user agent and request id come from the request context (core.context); the actor is the
context's user unless a service passes one (a Celery task acting for a user, a service account).

Writing is one INSERT, no lock and no read of the chain: it commits with the caller's transaction, or at
once in autocommit, so before the request answers (a process killed after answering loses nothing). The
sealer (audit.chain.seal, on the beat) links committed events into the hash chain afterwards.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.utils import timezone

from core import context
from core.queries import given

from .models import Action, ActorType, AuditEvent, Outcome


def actor_fields(actor: Any) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {
            "actor_type": ActorType.ANONYMOUS if actor is not None else ActorType.SYSTEM,
            "actor_id": None,
            "actor_username": "",
            "actor_roles": [],
        }
    roles = sorted(getattr(actor, "roles", ()))
    return {
        "actor_type": ActorType.SERVICE if getattr(actor, "is_service_account", False) else ActorType.USER,
        "actor_id": actor.pk,
        "actor_username": actor.get_username(),
        "actor_roles": roles,
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
        fields = actor_fields(actor if actor is not None else request.user)
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
        batch = _batch.get()
        if batch is None:
            _append([event])
        else:
            batch.add(event)
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


def _append(events: list[AuditEvent]) -> None:
    if len(events) == 1:
        events[0].save()  # one round trip in autocommit (bulk_create would add a transaction's three)
        return
    AuditEvent.objects.bulk_create(events)  # one INSERT in one transaction; MariaDB returns the new ids
