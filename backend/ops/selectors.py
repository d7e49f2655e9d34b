"""The operations overview (GET /api/ops/overview): the state of the running system for OPS and ADMIN,
with no patient data in it: the dependencies' readiness checks, the queues' depths and dead letters, the
AI jobs that failed, Alertmanager's alerts, the live colour and the age of the last backups.

Each section is computed on its own: one that fails (RabbitMQ away, Redis away) answers
{"status": "down", "detail": ...} and the others still answer, so the page never fails as a whole.
"""

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pika
import requests
from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone
from pika.exceptions import ChannelClosedByBroker
from prometheus_client import CollectorRegistry, multiprocess

from ai.models import AIJob
from audit.client import AuditClient
from audit.models import Action
from core.health import cached_checks
from core.messaging.names import CELERY_QUEUES, WORK_QUEUES
from core.messaging.topology import connection_parameters
from fhir_sync.models import DeadLetter
from notifications.selectors import alerts_recent

logger = logging.getLogger(__name__)

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not_configured"
WINDOW = timedelta(hours=24)
BACKUP_METRIC = "cdss_backup_last_success_timestamp_seconds"
BACKUP_KINDS = ("database", "objects", "offsite", "drill")


def _section(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"status": OK, **compute()}
    except Exception as exc:  # one section's failure is shown in it, never raised to the page
        logger.warning("ops overview: %s failed", compute.__name__, exc_info=True)
        return {"status": DOWN, "detail": f"{exc.__class__.__name__}: {exc}"[:300]}


def dependencies() -> dict[str, Any]:
    results, age = cached_checks()
    return {
        "checked_seconds_ago": round(age, 1),
        "items": [{"name": r.name, "state": r.status, "latency_ms": r.latency_ms, "detail": r.detail} for r in results],
    }


def queues() -> dict[str, Any]:
    """Messages waiting in each queue of ours (a passive declare: it creates nothing), dead letters too."""
    names = [(queue.name, False) for queue in WORK_QUEUES]
    names += [(queue.dead_letter_queue, True) for queue in WORK_QUEUES]
    names += [(name, False) for name in CELERY_QUEUES]
    timeout = settings.READINESS_TIMEOUT_SECONDS
    connection = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL, timeout=timeout))
    items = []
    try:
        channel = connection.channel()
        for name, dead_letter in names:
            try:
                declared = channel.queue_declare(name, passive=True).method
            except ChannelClosedByBroker as exc:  # 404: not declared; 403: this account may not look
                items.append({"name": name, "dead_letter": dead_letter, "messages": None, "consumers": None,
                              "detail": exc.reply_text[:200]})  # fmt: skip
                channel = connection.channel()
                continue
            items.append({"name": name, "dead_letter": dead_letter, "messages": declared.message_count,
                          "consumers": declared.consumer_count, "detail": ""})  # fmt: skip
    finally:
        if connection.is_open:
            connection.close()
    return {"items": items}


def fhir_dead_letters() -> dict[str, Any]:
    """Counts and times only: a dead letter names a patient's record, which OPS may not see."""
    since = timezone.now() - WINDOW
    open_letters = DeadLetter.objects.filter(status=DeadLetter.Status.OPEN)
    summary = open_letters.aggregate(open=Count("id"), oldest=Min("created_at"))
    return {
        "open": summary["open"],
        "oldest_open_at": summary["oldest"],
        "created_last_24h": DeadLetter.objects.filter(created_at__gte=since).count(),
    }


def ai_jobs() -> dict[str, Any]:
    """Jobs that failed in the last 24 hours, by task: counts, never which patient's or why (the error text
    may name the study)."""
    since = timezone.now() - WINDOW
    failed = AIJob.objects.filter(status=AIJob.Status.FAILED, updated_at__gte=since)
    by_task = failed.values("task").annotate(count=Count("id"), last=Max("updated_at")).order_by("task")
    waiting = AIJob.objects.filter(status__in=(AIJob.Status.QUEUED, AIJob.Status.RUNNING))
    return {
        "failed_last_24h": sum(row["count"] for row in by_task),
        "failed_by_task": [{"task": row["task"], "count": row["count"], "last_at": row["last"]} for row in by_task],
        "last_failed_at": max((row["last"] for row in by_task), default=None),
        "queued": waiting.filter(status=AIJob.Status.QUEUED).count(),
        "running": waiting.filter(status=AIJob.Status.RUNNING).count(),
    }


def alerts() -> dict[str, Any]:
    recent = alerts_recent()
    shown = ("name", "severity", "summary", "starts_at", "received_at")
    return {
        "firing": [{key: entry.get(key, "") for key in shown} for entry in recent if entry["status"] == "firing"],
        "resolved": [{key: entry.get(key, "") for key in shown} for entry in recent if entry["status"] == "resolved"],
    }


def deployment() -> dict[str, Any]:
    """The colour nginx sends traffic to (scripts/deploy.sh writes it to var/run/colour), else the colour
    of the process answering (CDSS_COLOUR, set by scripts/process.sh); none where there are no colours."""
    path = Path(settings.DEPLOY_COLOUR_FILE)
    if path.is_file():
        switched = path.with_name(path.name + ".switched")
        switched_at = None
        if switched.is_file():
            switched_at = datetime.fromtimestamp(int(switched.read_text().strip()), tz=UTC)
        return {"live_colour": path.read_text().strip(), "serving_colour": settings.DEPLOY_COLOUR or None,
                "switched_at": switched_at}  # fmt: skip
    return {"live_colour": settings.DEPLOY_COLOUR or None, "serving_colour": settings.DEPLOY_COLOUR or None,
            "switched_at": None}  # fmt: skip


def _backup_times_from_files() -> dict[str, float]:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory or not Path(directory).is_dir():
        return {}
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    times: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == BACKUP_METRIC:
                kind = sample.labels.get("kind", "")
                times[kind] = max(times.get(kind, 0.0), sample.value)
    return times


def _backup_times_from_prometheus() -> dict[str, float]:
    response = requests.get(
        f"{settings.PROMETHEUS_URL}/api/v1/query",
        params={"query": f"max by (kind) ({BACKUP_METRIC})"},
        timeout=settings.READINESS_TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    response.raise_for_status()
    return {row["metric"].get("kind", ""): float(row["value"][1]) for row in response.json()["data"]["result"]}


def backups() -> dict[str, Any]:
    """The last successful backup of each kind and its age: from the backup gauges this process can read
    (the local run's shared metrics directory), else from Prometheus where PROMETHEUS_URL is set."""
    times, source = _backup_times_from_files(), "metrics"
    if not times and settings.PROMETHEUS_URL:
        times, source = _backup_times_from_prometheus(), "prometheus"
    now = time.time()
    items = [
        {
            "kind": kind,
            "last_success_at": datetime.fromtimestamp(times[kind], tz=UTC) if kind in times else None,
            "age_seconds": round(now - times[kind]) if kind in times else None,
        }
        for kind in BACKUP_KINDS
    ]
    return {"source": source if times else None, "items": items}


def links() -> dict[str, str | None]:
    return {
        "grafana": settings.GRAFANA_URL or None,
        "prometheus": settings.PROMETHEUS_URL or None,
        "alertmanager": settings.ALERTMANAGER_URL or None,
    }


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "dependencies": dependencies,
    "queues": queues,
    "fhir_dead_letters": fhir_dead_letters,
    "ai_jobs": ai_jobs,
    "alerts": alerts,
    "deployment": deployment,
    "backups": backups,
}


def overview_get(*, user: Any) -> dict[str, Any]:
    """Every section, each on its own; audited as a read of operations data (no patient in it)."""
    body: dict[str, Any] = {name: _section(compute) for name, compute in SECTIONS.items()}
    body["links"] = links()
    body["generated_at"] = timezone.now()
    AuditClient.log_event(
        Action.READ,
        actor=user,
        resource_type="ops_overview",
        detail={"down": [name for name in SECTIONS if body[name]["status"] == DOWN]},
    )
    return body
