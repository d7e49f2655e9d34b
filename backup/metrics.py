"""The backups' Prometheus metrics and state, recorded by backup.sh and the restore drill after each step.

    metrics.py KIND ok [SECONDS [BYTES]]     a step that succeeded (its duration and size)
    metrics.py KIND failed                   a step that failed
    metrics.py drill RTO_SECONDS RPO_SECONDS the restore drill's measured figures (after `drill ok`)
    KIND: database (the daily dump), objects (the weekly object copy), offsite (the off-site copy), drill

The gauges go to PROMETHEUS_MULTIPROC_DIR (default var/prometheus/django: the local run's Django /metrics
serves them, so Prometheus' `django` job scrapes them; under compose the backup container publishes its
own directory on CDSS_METRICS_PORT). They are "mostrecent" gauges written under one fixed process id, so
each run overwrites the last value instead of leaving a file per run. Alerts BackupTooOld and BackupFailed:
monitoring/rules/backup.yml. The same facts go to $BACKUP_DIR/status.json, which backup/scheduler.py reads
(the catch-up after downtime).
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("database", "objects", "offsite", "drill")


def _gauges():
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(ROOT / "var" / "prometheus" / "django"))
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    from prometheus_client import Gauge, values

    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: "backup")

    def gauge(name, text, labels=("kind",)):
        return Gauge(name, text, list(labels), multiprocess_mode="mostrecent")

    return {
        "success": gauge("cdss_backup_last_success_timestamp_seconds", "When the backup step last succeeded"),
        "failure": gauge("cdss_backup_last_failure_timestamp_seconds", "When the backup step last failed"),
        "duration": gauge("cdss_backup_last_duration_seconds", "How long the step's last success took"),
        "size": gauge("cdss_backup_last_size_bytes", "Size of the step's last successful backup file"),
        "rto": gauge("cdss_backup_drill_rto_seconds", "Restore time measured by the last restore drill", ()),
        "rpo": gauge("cdss_backup_drill_rpo_seconds", "Age of the newest backup when the last drill ran", ()),
    }


def status_file() -> Path:
    return Path(os.environ.get("BACKUP_DIR") or ROOT / "var" / "backups") / "status.json"


def record(kind: str, outcome: str, *figures: str) -> None:
    gauges, now = _gauges(), time.time()
    path = status_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    status = json.loads(path.read_text()) if path.exists() else {}
    entry = status.setdefault(kind, {})
    if kind == "drill" and outcome not in ("ok", "failed"):  # drill RTO RPO
        gauges["rto"].set(float(outcome))
        gauges["rpo"].set(float(figures[0]))
        entry.update(rto_seconds=float(outcome), rpo_seconds=float(figures[0]))
    elif outcome == "ok":
        gauges["success"].labels(kind).set(now)
        entry["last_success"] = now
        for name, value in zip(("duration", "size"), figures, strict=False):
            gauges[name].labels(kind).set(float(value))
            entry[name] = float(value)
    else:
        gauges["failure"].labels(kind).set(now)
        entry["last_failure"] = now
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in KINDS:
        sys.exit(__doc__)
    record(*sys.argv[1:])
