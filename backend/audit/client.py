"""`AuditClient.log_event(...)`: the one way anything in the CDSS writes to the audit trail.

Services call it explicitly, reads of patient data included (signals cannot see reads). The caller's
address, user agent and request id come from the request context (core.context); the actor is the
context's user unless a service passes one (a Celery task acting for a user, a service account).
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from core import context

from .models import Action, ActorType, AuditChainHead, AuditEvent, Outcome


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
        with transaction.atomic():
            head = _locked_chain_head()
            event.prev_hash = head.last_hash
            event.hash = event.compute_hash()
            event.save()
            head.last_event_id, head.last_hash = event.pk, event.hash
            head.save(update_fields=("last_event_id", "last_hash"))
        return event


def _locked_chain_head() -> AuditChainHead:
    """The chain head (created by migration 0003), locked until the caller's transaction ends."""
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # its row was removed by hand: the next event starts a new chain from genesis
        head = AuditChainHead.objects.create(pk=1)
    return head
