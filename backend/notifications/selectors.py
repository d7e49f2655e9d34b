"""Reads of what notifications keeps: the recent Alertmanager deliveries (notifications.services)."""

from typing import Any

from django.core.cache import cache

from .services import RECENT_ALERTS_KEY


def alerts_recent() -> list[dict[str, Any]]:
    """Each alert (its name and labels) in the state of its newest delivery, newest first."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in cache.get(RECENT_ALERTS_KEY) or []:
        key = entry["name"] + "|" + "|".join(f"{k}={v}" for k, v in sorted(entry.get("labels", {}).items()))
        latest[key] = entry
    return sorted(latest.values(), key=lambda entry: entry["received_at"], reverse=True)
