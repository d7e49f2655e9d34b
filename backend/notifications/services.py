"""The one way services push an event to signed-in browsers: after the transaction commits, to each
user's websocket group (notifications.consumers). A rolled-back change notifies nobody."""

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .consumers import user_group


def notify_users(user_ids: Iterable[int], payload: dict[str, Any]) -> None:
    recipients = sorted(set(user_ids))

    def send() -> None:
        layer = get_channel_layer()
        for user_id in recipients:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "notify", "payload": payload})

    transaction.on_commit(send)


def alert_received(*, route: str, alerts: list[dict[str, Any]]) -> None:
    """An Alertmanager delivery: audited, then pushed to every active OPS and ADMIN user."""
    from django.contrib.auth import get_user_model

    from audit.client import AuditClient
    from audit.models import Action

    names = [alert["labels"].get("alertname", "?") for alert in alerts]
    AuditClient.log_event(
        Action.CREATE,
        username="alertmanager",  # a bearer token, not an account
        resource_type="alert",
        resource_id=",".join(names)[:128],
        detail={"route": route, "alerts": names},
    )
    watchers = get_user_model().objects.filter(is_active=True, groups__name__in=("OPS", "ADMIN")).distinct()
    summaries = [
        {
            "name": alert["labels"].get("alertname", ""),
            "status": alert["status"],
            "severity": alert["labels"].get("severity", ""),
            "summary": alert.get("annotations", {}).get("summary", ""),
        }
        for alert in alerts
    ]
    notify_users(watchers.values_list("pk", flat=True), {"kind": "alert", "route": route, "alerts": summaries})
    alerts_remember(alerts)


RECENT_ALERTS_KEY = "ops:recent-alerts"
RECENT_ALERTS_KEPT = 200


def alerts_remember(alerts: list[dict[str, Any]]) -> None:
    """Keep the newest deliveries in Redis for the operations page (ops.selectors): each alert's name,
    status, severity, summary and labels, when it arrived. Alertmanager's alerts carry no patient data
    (monitoring/rules); two deliveries at the same instant may keep only one of them, which the next
    delivery (Alertmanager repeats firing alerts) mends."""
    now = timezone.now().isoformat()
    entries = [
        {
            "name": alert["labels"].get("alertname", ""),
            "status": alert["status"],
            "severity": alert["labels"].get("severity", ""),
            "summary": alert.get("annotations", {}).get("summary", ""),
            "labels": dict(alert["labels"]),
            "starts_at": alert.get("startsAt", ""),
            "received_at": now,
        }
        for alert in alerts
    ]
    kept = cache.get(RECENT_ALERTS_KEY) or []
    cache.set(RECENT_ALERTS_KEY, (kept + entries)[-RECENT_ALERTS_KEPT:], timeout=7 * 86400)
