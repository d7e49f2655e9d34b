"""The audit trail at hospital scale: 10 million sealed events, a month archived and purged (issue #19).

    cd backend && .venv/bin/python benchmarks/audit_scale.py [--events 10000000] [--months 24] [--inserts 2000]

On a throw-away copy of the schema (`--database`, test_cdss_bench_auditscale) on the real MariaDB and the S3 stand-in:
1. `--events` events spread over `--months` months up to yesterday, with their seals (a valid chain
   computed by audit.chain.link_hash), loaded with LOAD DATA (secondary indexes dropped while loading and
   built after, as a restore would);
2. the tables' size (data and indexes, information_schema);
3. the cost of one audit INSERT (the statement AuditClient writes, autocommit) into the full table and
   into an empty copy of it, alternating (same load), `--inserts` in all: median, p95 and the ratio;
4. verification of the whole chain against a checkpoint (audit.checkpoints.verify), timed;
5. the oldest month archived (audit.archive.archive_next: export, store locked, read back, recompute),
   then purged from the database (audit.archive.purge), each timed, with the archive's size;
6. verification again, now starting from the archive's signed manifest (across the boundary), and the
   archive's own links recomputed (verify_contents), timed.
The archive's objects stay in the stand-in's audit bucket, locked for the minimum retention (two years),
under a prefix of this run's own.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from _django import bench_database

ACTIONS = ("READ", "READ", "READ", "READ", "CREATE", "UPDATE", "EXPORT", "LOGIN")
RESOURCES = ("patient", "radiology_study", "ai_result", "audit_event", "lab_result")


def _insert_cost(n: int, rounds: int = 6) -> dict[str, tuple[float, float]]:
    """One audit INSERT (the statement AuditClient writes, autocommit: one commit and flush each) into the
    full table and into an empty copy of it, alternating in rounds so that both see the same load (the
    machine is shared: a before/after comparison drifted by 9x with the load). {table: (median, p95) ms}"""
    from django.db import connection
    from django.utils import timezone

    from audit.client import _insert_statement
    from audit.models import Action, AuditEvent, Outcome

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS audit_scale_empty")
        cursor.execute("CREATE TABLE audit_scale_empty LIKE audit_auditevent")
    times: dict[str, list[float]] = {"full": [], "empty": []}
    with connection.cursor() as cursor:
        for round_ in range(rounds):
            for table in ("full", "empty") if round_ % 2 else ("empty", "full"):
                for i in range(n // rounds):
                    event = AuditEvent(
                        occurred_at=timezone.now(),
                        action=Action.READ,
                        resource_type="patient",
                        resource_id=str(i),
                        patient_id=f"p-{i % 997}",
                        outcome=Outcome.SUCCESS,
                        actor_type="user",
                        actor_id=i % 211,
                        actor_username=f"user{i % 211}",
                        actor_roles=["DOCTOR"],
                        request_id=uuid.uuid4().hex,
                        detail={},
                    )
                    sql, params = _insert_statement([event], connection)
                    if table == "empty":
                        sql = sql.replace("`audit_auditevent`", "`audit_scale_empty`", 1)
                    started = time.perf_counter()
                    cursor.execute(sql, params)
                    cursor.fetchall()
                    times[table].append((time.perf_counter() - started) * 1000)
        cursor.execute("DROP TABLE audit_scale_empty")
    return {table: (statistics.median(v), sorted(v)[int(len(v) * 0.95)]) for table, v in times.items()}


def _raw_connection():
    import pymysql
    from django.db import connection

    db = connection.settings_dict
    return pymysql.connect(
        host=db["HOST"] or "127.0.0.1",
        port=int(db["PORT"] or 3306),
        user=db["USER"],
        password=db["PASSWORD"],
        database=db["NAME"],
        local_infile=True,
        autocommit=True,
    )


def _secondary_keys(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(f"SHOW CREATE TABLE {table}")
    lines = cursor.fetchone()[1].splitlines()
    keys = [line.strip().rstrip(",") for line in lines if line.strip().startswith("KEY ")]
    return [(key.split("`")[1], key) for key in keys]


def _load(events: int, months: int, chunk: int = 1_000_000) -> float:
    """Generate and LOAD DATA the events and their seals; returns the seconds it took."""
    from audit.chain import link_hash
    from audit.models import GENESIS_HASH

    started = time.perf_counter()
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    begin = (end - timedelta(days=30.44 * months)).replace(day=1, hour=0, minute=0, second=0)  # whole months
    step = (end - begin) / events
    raw = _raw_connection()
    cursor = raw.cursor()
    keys = _secondary_keys(cursor, "audit_auditevent")
    cursor.execute("ALTER TABLE audit_auditevent " + ", ".join(f"DROP KEY `{name}`" for name, _ in keys))
    prev = GENESIS_HASH
    with tempfile.TemporaryDirectory() as folder:
        event_file, seal_file = os.path.join(folder, "events.tsv"), os.path.join(folder, "seals.tsv")
        for low in range(1, events + 1, chunk):
            with (
                open(event_file, "w", encoding="utf-8") as out_events,
                open(seal_file, "w", encoding="utf-8") as out_seals,
            ):
                for i in range(low, min(low + chunk, events + 1)):
                    occurred = begin + step * i
                    actor = i % 211
                    roles = '["DOCTOR"]' if actor % 3 else '["NURSE"]'
                    content = {
                        "occurred_at": occurred.isoformat(timespec="microseconds"),
                        "actor_type": "user",
                        "actor_id": actor,
                        "actor_username": f"user{actor}",
                        "actor_roles": ["DOCTOR"] if actor % 3 else ["NURSE"],
                        "action": ACTIONS[i % len(ACTIONS)],
                        "resource_type": RESOURCES[i % len(RESOURCES)],
                        "resource_id": str(i),
                        "patient_id": f"p-{i % 50021}",
                        "outcome": "SUCCESS",
                        "status_code": 200,
                        "source_ip": f"10.0.{actor % 250}.{i % 250}",
                        "user_agent": "Mozilla/5.0 (bench)",
                        "request_id": f"{i:032x}",
                        "system": "",
                        "endpoint": "",
                        "detail": {},
                    }
                    prev = link_hash(prev, i, i, content)
                    out_events.write(
                        f"{i}\t{occurred:%Y-%m-%d %H:%M:%S.%f}\tuser\t{actor}\tuser{actor}\t{roles}\t"
                        f"{content['action']}\t{content['resource_type']}\t{i}\t{content['patient_id']}\tSUCCESS\t200\t{content['source_ip']}\t"
                        f"Mozilla/5.0 (bench)\t{content['request_id']}\t\t\t{{}}\n"
                    )
                    sealed = occurred + timedelta(seconds=2)
                    out_seals.write(f"{i}\t{i}\t{prev}\t{sealed:%Y-%m-%d %H:%M:%S.%f}\n")
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{event_file}' INTO TABLE audit_auditevent (id, occurred_at, actor_type, "
                "actor_id, actor_username, actor_roles, action, resource_type, resource_id, patient_id, outcome, "
                "status_code, source_ip, user_agent, request_id, `system`, endpoint, detail)"
            )
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{seal_file}' INTO TABLE audit_auditseal (position, event_id, hash, sealed_at)"
            )
            print(
                f"  loaded {min(low + chunk - 1, events):,} events ({time.perf_counter() - started:.0f} s)", flush=True
            )
    index_started = time.perf_counter()
    cursor.execute("ALTER TABLE audit_auditevent " + ", ".join(f"ADD {definition}" for _, definition in keys))
    print(f"  secondary indexes built in {time.perf_counter() - index_started:.0f} s", flush=True)
    raw.close()
    return time.perf_counter() - started


def _size() -> dict[str, tuple[int, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE audit_auditevent, audit_auditseal")
        cursor.fetchall()
        cursor.execute(
            "SELECT table_name, table_rows, data_length, index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name IN ('audit_auditevent', 'audit_auditseal')"
        )
        return {name: (rows, data, index) for name, rows, data, index in cursor.fetchall()}


def _timed(what: str, call):
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    print(f"{what}: {seconds:.1f} s", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--inserts", type=int, default=2000)
    parser.add_argument(
        "--database",
        default="test_cdss_bench_auditscale",
        help="its own: a second run on the same name drops the first's",
    )
    args = parser.parse_args()
    with bench_database(args.database):
        from django.conf import settings
        from django.db import connection

        from audit import archive, checkpoints
        from audit.chain import seal
        from core.storage import ensure_buckets

        ensure_buckets()  # the test buckets (the audit one with object lock), as the test suite makes them
        run = uuid.uuid4().hex[:12]
        settings.AUDIT_CHECKPOINT_KEY = f"bench-{run}"
        settings.AUDIT_CHECKPOINT_PREFIX = f"bench-{run}/checkpoints/"
        settings.AUDIT_ARCHIVE_PREFIX = f"bench-{run}/archives/"
        settings.AUDIT_ARCHIVE_RETENTION_DAYS = archive.MINIMUM_RETENTION_DAYS
        print(f"audit_scale: {args.events:,} events over {args.months} months; load {os.getloadavg()}", flush=True)

        load = _load(args.events, args.months)
        print(f"generated and loaded {args.events:,} events with their seals: {load:.0f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent AUTO_INCREMENT = %s", [args.events + 1])
        for table, (rows, data, index) in _size().items():
            print(
                f"{table}: ~{rows:,} rows, data {data / 2**20:,.0f} MiB, indexes {index / 2**20:,.0f} MiB", flush=True
            )

        cost = _insert_cost(args.inserts)
        for table, (median, p95) in cost.items():
            print(f"INSERT into the {table} table: median {median:.3f} ms, p95 {p95:.3f} ms", flush=True)
        print(
            f"full/empty: median {cost['full'][0] / cost['empty'][0]:.2f}, p95 {cost['full'][1] / cost['empty'][1]:.2f}"
        )
        _timed("sealing those inserts", seal)
        _timed("checkpoint at the head", checkpoints.write)

        report, _ = _timed("verification of the whole chain", checkpoints.verify)
        print(f"  {report.outcome}: {report.checked:,} links, {report.checkpoints} checkpoints", flush=True)
        assert report.intact, report

        done, _ = _timed("archive of the oldest month (export, store, read back, recompute)", archive.archive_next)
        print(
            f"  {done.month}: positions {done.first_position:,} to {done.last_position:,}, {done.events:,} events, "
            f"{done.size / 2**20:.1f} MiB gzipped ({done.size / done.events:.0f} bytes per event)",
            flush=True,
        )
        deleted, _ = _timed("purge of that month from the database", lambda: archive.purge(months=0))
        print(f"  {deleted:,} events deleted", flush=True)
        assert deleted == done.events

        report, _ = _timed("verification from the archive's manifest on", checkpoints.verify)
        print(f"  {report.outcome}: {report.checked:,} links in the database, {report.archived:,} archived", flush=True)
        assert report.intact and report.archived == done.last_position, report
        reason, _ = _timed(
            "recomputing the archive's links", lambda: archive.verify_contents(done, checkpoints.read()[0])
        )
        assert reason == "", reason


if __name__ == "__main__":
    sys.exit(main())
