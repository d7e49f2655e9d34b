"""Reads of the audit trail (ADMIN only; the API checks the permission before calling these)."""

from datetime import datetime

from django.db.models import Case, CharField, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from .models import GENESIS_HASH, AuditEvent, AuditSeal

FILTER_LOOKUPS = {
    "actor": "actor_username",
    "actor_id": "actor_id",
    "patient": "patient_id",
    "action": "action",
    "resource_type": "resource_type",
    "resource_id": "resource_id",
    "outcome": "outcome",
    "request_id": "request_id",
    "since": "occurred_at__gte",
    "until": "occurred_at__lt",
}


def event_list(*, filters: dict[str, str | int | datetime]) -> QuerySet[AuditEvent]:
    lookups = {FILTER_LOOKUPS[name]: value for name, value in filters.items() if value not in (None, "")}
    return with_chain(AuditEvent.objects.filter(**lookups).order_by("-id"))


def with_chain(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """Each event's link in the chain, `hash` and `prev_hash` ("" until the sealer reaches it)."""
    before = AuditSeal.objects.filter(position=OuterRef("seal__position") - 1).values("hash")[:1]
    first = Case(When(seal__position=1, then=Value(GENESIS_HASH)), default=Value(""))
    return events.annotate(
        hash=Coalesce(F("seal__hash"), Value(""), output_field=CharField()),
        prev_hash=Coalesce(Subquery(before), first, output_field=CharField()),
    )
