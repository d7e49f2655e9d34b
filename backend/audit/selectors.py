"""Reads of the audit trail (ADMIN only; the API checks the permission before calling these)."""

from datetime import datetime

from django.db.models import QuerySet

from .models import AuditEvent

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
    return AuditEvent.objects.filter(**lookups).order_by("-id")
