"""The backups' schedule, as a long-running process: the `backup` program of make run (supervisord),
compose (the `backup` service) and systemd (cdss@backup). Nothing else needs to be installed (no cron).

    python backup/scheduler.py          (scripts/process.sh backup; the backend virtualenv or image)

Runs backup/backup.sh every day at BACKUP_DAILY_AT (UTC, HH:MM; default 02:15) and backup/backup.sh
--objects on weekday BACKUP_OBJECTS_WEEKDAY (0 = Monday ... 6 = Sunday; default 6) at BACKUP_OBJECTS_AT
(default 03:00). At start, a database backup older than a day (or none: $BACKUP_DIR/status.json, written
by backup/metrics.py) is made at once, so a host that was down at 02:15 does not wait another day
(BACKUP_CATCH_UP=false turns that off). A failed run is logged and recorded by backup.sh itself (the
BackupFailed alert); the schedule goes on. With CDSS_METRICS_PORT set (compose), the backup metrics of
PROMETHEUS_MULTIPROC_DIR are served there for Prometheus.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime.timedelta(days=1)


def next_run(now: datetime.datetime, at: str, weekday: int | None = None) -> datetime.datetime:
    """The first time at `at` (HH:MM) after `now`, on `weekday` when given."""
    hour, minute = (int(part) for part in at.split(":"))
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while candidate <= now or (weekday is not None and candidate.weekday() != weekday):
        candidate += DAY
    return candidate


def last_success(status_file: Path) -> float:
    try:
        return json.loads(status_file.read_text())["database"]["last_success"]
    except (OSError, ValueError, KeyError):
        return 0.0


def run_backup(*args: str) -> int:
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%dT%H:%M:%SZ} backup/backup.sh {' '.join(args)}", flush=True)
    result = subprocess.run([str(ROOT / "backup" / "backup.sh"), *args], check=False)  # noqa: S603
    print(f"backup/backup.sh ended with {result.returncode}", flush=True)
    return result.returncode


def serve_metrics() -> None:
    port = os.environ.get("CDSS_METRICS_PORT")
    if port:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(int(port), registry=registry)


def main() -> None:
    # Stop at once: a backup under way is abandoned (its .partial file is never taken for a backup).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = os.environ
    daily_at, objects_at = env.get("BACKUP_DAILY_AT") or "02:15", env.get("BACKUP_OBJECTS_AT") or "03:00"
    objects_weekday = int(env.get("BACKUP_OBJECTS_WEEKDAY") or 6)
    status_file = Path(env.get("BACKUP_DIR") or ROOT / "var" / "backups") / "status.json"
    serve_metrics()
    print(f"backup schedule (UTC): daily {daily_at}, objects on weekday {objects_weekday} {objects_at}", flush=True)
    catch_up = env.get("BACKUP_CATCH_UP", "true").lower() != "false"
    if catch_up and time.time() - last_success(status_file) > DAY.total_seconds():
        run_backup()
    while True:
        now = datetime.datetime.now(datetime.UTC)
        daily, weekly = next_run(now, daily_at), next_run(now, objects_at, objects_weekday)
        due = min(daily, weekly)
        print(f"next backup at {due:%Y-%m-%dT%H:%M}Z", flush=True)
        while (wait := (due - datetime.datetime.now(datetime.UTC)).total_seconds()) > 0:
            time.sleep(min(wait, 60))  # short sleeps: a suspended host or a changed clock is noticed
        run_backup(*(["--objects"] if due == weekly else []))


if __name__ == "__main__":
    main()
