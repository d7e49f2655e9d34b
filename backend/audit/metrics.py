"""Prometheus metrics of the audit chain, set where the work runs (the beat's tasks in a Celery worker, or
`manage.py verify_audit_chain`). With PROMETHEUS_MULTIPROC_DIR shared with gunicorn, /metrics serves the
value most recently set by any process ("mostrecent"), so a recycled worker child does not erase it.
Alerts: monitoring/rules/audit.yml."""

from prometheus_client import Counter, Gauge

OUTCOMES = ("intact", "broken", "error")

VERIFICATION = Gauge(
    "cdss_audit_chain_verification",
    "1 for the outcome of the newest verification of the audit chain (intact, broken, error), 0 for the others",
    ["outcome"],
    multiprocess_mode="mostrecent",
)
VERIFIED_AT = Gauge(
    "cdss_audit_chain_verified_timestamp_seconds",
    "When the audit chain was last verified (whatever the outcome)",
    multiprocess_mode="mostrecent",
)
CHAIN_LENGTH = Gauge(
    "cdss_audit_chain_length", "Seals checked by the newest verification", multiprocess_mode="mostrecent"
)
RESTORES = Gauge(
    "cdss_audit_chain_restores_acknowledged",
    "Acknowledged restores (audit.restores) the newest verification took into account: a change means one was added",
    multiprocess_mode="mostrecent",
)
CHECKPOINTED_AT = Gauge(
    "cdss_audit_checkpoint_success_timestamp_seconds",
    "When the checkpoint task last succeeded (wrote a checkpoint, or found the head checkpointed already)",
    multiprocess_mode="mostrecent",
)
CHECKPOINT_FAILURES = Counter("cdss_audit_checkpoint_failures", "Checkpoint runs that could not write")
SEALED_AT = Gauge(
    "cdss_audit_sealer_success_timestamp_seconds", "When the sealer last finished a run", multiprocess_mode="mostrecent"
)
UNSEALED = Gauge(
    "cdss_audit_unsealed_events",
    "Events newer than the chain's head after the sealer's run",
    multiprocess_mode="mostrecent",
)
UNSEALED_AGE = Gauge(
    "cdss_audit_unsealed_oldest_seconds",
    "Age of the oldest event newer than the chain's head after the sealer's run",
    multiprocess_mode="mostrecent",
)


def verified(report) -> None:
    for outcome in OUTCOMES:
        VERIFICATION.labels(outcome).set(1 if report.outcome == outcome else 0)
    CHAIN_LENGTH.set(report.checked)
    RESTORES.set(len(report.restores))
    VERIFIED_AT.set_to_current_time()


def sealed(waiting: int, oldest_seconds: float) -> None:
    UNSEALED.set(waiting)
    UNSEALED_AGE.set(oldest_seconds)
    SEALED_AT.set_to_current_time()
