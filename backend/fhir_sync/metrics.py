"""Prometheus metrics of the FHIR sync, exposed on Django's /metrics (core.metrics_endpoint).

Counters are incremented where the work happens (in the Celery workers; with PROMETHEUS_MULTIPROC_DIR
shared they are aggregated like gunicorn's). The backlog and lag gauges are read from the database at
scrape time, so they are right whichever process serves /metrics.
"""

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.metrics_endpoint import register_scrape_time

SYNCED = Counter("cdss_fhir_sync_synced", "Entities written to the FHIR server", ["resource_type", "outcome"])
RETRIED = Counter("cdss_fhir_sync_retried", "Sync attempts that failed and were retried", ["resource_type"])
DEAD_LETTERED = Counter("cdss_fhir_sync_dead_lettered", "Entities the sync gave up on", ["resource_type"])
RECONCILE_QUEUED = Counter(
    "cdss_fhir_sync_reconcile_queued", "Entities queued again by reconciliation", ["resource_type"]
)
SYNC_DURATION = Histogram(
    "cdss_fhir_sync_duration_seconds",
    "Time to sync one entity (its references included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUNDLE_ENTRIES = Histogram(
    "cdss_fhir_sync_bundle_entries",
    "Entries in each transaction Bundle the FHIR server accepted",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
BUNDLE_REFUSED = Counter("cdss_fhir_sync_bundle_refused", "Bundles refused (4xx) and sent again entry by entry")
SYNC_LAG = Histogram(
    "cdss_fhir_sync_lag_seconds",
    "From the sync being asked for (outbox row) to the entity written",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)


class BacklogCollector:
    """cdss_outbox_backlog (messages not yet confirmed by RabbitMQ), cdss_outbox_oldest_pending_seconds,
    cdss_fhir_dead_letters_open, read from the database at scrape time."""

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("cdss_outbox_backlog", "Outbox messages not yet published", labels=["kind"]),
            GaugeMetricFamily("cdss_outbox_oldest_pending_seconds", "Age of the oldest unpublished message"),
            GaugeMetricFamily("cdss_fhir_dead_letters_open", "Open FHIR dead letters", labels=["resource_type"]),
        )

    def describe(self):
        """Names only: registering at start-up must not query the database (the registry calls
        describe() when it exists, collect() otherwise)."""
        return list(self._families())

    def collect(self):
        from django.db import DatabaseError
        from django.utils import timezone

        from core.models import OutboxMessage

        from .models import DeadLetter

        backlog, oldest, open_letters = self._families()
        try:
            pending = OutboxMessage.objects.filter(published_at__isnull=True)
            for kind in OutboxMessage.Kind.values:
                backlog.add_metric([kind], pending.filter(kind=kind).count())
            first = pending.order_by("created_at").values_list("created_at", flat=True).first()
            oldest.add_metric([], (timezone.now() - first).total_seconds() if first else 0.0)
            counts: dict[str, int] = {}
            for resource_type in DeadLetter.objects.filter(status=DeadLetter.Status.OPEN).values_list(
                "resource_type", flat=True
            ):
                counts[resource_type] = counts.get(resource_type, 0) + 1
            for resource_type, count in sorted(counts.items()):
                open_letters.add_metric([resource_type or "unknown"], count)
        except DatabaseError:
            return
        yield from (backlog, oldest, open_letters)


_backlog = BacklogCollector()


def register_collectors() -> None:
    register_scrape_time(_backlog)
