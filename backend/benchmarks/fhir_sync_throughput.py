"""FHIR sync throughput: the same patients (a) posted one by one by a plain script and (b) through the
outbox, RabbitMQ and real Celery workers, in the same run; resources per second each and the ratio b/a.

    cd backend && .venv/bin/python benchmarks/fhir_sync_throughput.py [--patients 500] [--concurrency 8]

(a) a loop that builds each Patient resource and POSTs it to a HAPI stand-in (plain `requests`, one
    connection, no database, no audit), HAPI's default answer (the stored resource); (a') the same loop
    again with `Prefer: return=minimal` (the same patients again: plain creates of new resources);
(b) one transaction (in a thread, as a web request) queueing the 500 as `reconcile` queues a first sync
    (fhir_sync.services.request_syncs: one `sync_entities` outbox message per FHIR_BUNDLE_MAX_ENTRIES, and a
    PendingSync row per patient), published after commit with publisher confirms, consumed by a Celery
    worker (prefork, `--concurrency`) whose tasks claim up to FHIR_BUNDLE_MAX_ENTRIES pending syncs,
    transform them, write them in one transaction Bundle of conditional entries with Prefer:
    return=minimal, audit each entry and record the mappings; timed until every mapping row exists (the
    time the publishing took is printed too). Worker start-up is not timed.
Each path has its own fresh HAPI stand-in process, so both start from an empty server.
Goal (issue 18): b/a' >= 1.0.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _django import bench_database

BACKEND = Path(__file__).resolve().parents[1]
# Its own FHIR queue on the test vhost (cdss/celery.py); read when bench_database() sets Django up.
os.environ["CDSS_TEST_DB_SUFFIX"] = "fhirbench"
DATABASE = "test_cdss_bench_fhirsync"


def make_patients(count: int) -> list:
    from django.utils import timezone

    from emr.models import Patient

    now = timezone.now()
    Patient.objects.bulk_create(
        Patient(emr_uuid=f"bench-{i:05d}", emr_pid=str(i), mrn=f"B{i:05d}", family_name=f"Family{i}",
                given_name=f"Given{i}", birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                sex="Female" if i % 2 else "Male", fetched_at=now)
        for i in range(count)
    )  # fmt: skip
    return list(Patient.objects.order_by("pk"))


def plain_script(base: str, patients: list, prefer: str = "return=representation") -> float:
    import requests

    from fhir_sync import transforms

    session = requests.Session()
    started = time.perf_counter()
    for patient in patients:
        answer = session.post(
            f"{base}/Patient",
            json=transforms.patient(patient).as_json(),
            headers={"Content-Type": "application/fhir+json", "Prefer": prefer},
            timeout=10,
        )
        answer.raise_for_status()
    return time.perf_counter() - started


def start_worker(base: str, concurrency: int, log: Path) -> subprocess.Popen:
    from core.dbaccess import process_env
    from core.messaging.names import FHIR_QUEUE

    env = {**os.environ, **process_env(), "FHIR_BASE_URL": base}
    process = subprocess.Popen(  # noqa: S603 (our own worker, fixed arguments)
        [sys.executable, "-m", "celery", "-A", "cdss", "worker", "--pool=prefork", f"--concurrency={concurrency}",
         f"--queues={FHIR_QUEUE}", f"--hostname=fhirbench-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel=WARNING"],
        cwd=BACKEND, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process


def wait_ready(process: subprocess.Popen, seconds: float = 8.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the Celery worker did not start")
        time.sleep(0.2)


def through_the_pipeline(patients: list) -> tuple[float, float]:
    """(seconds until every mapping row exists, seconds until the enqueuing transaction's after-commit
    publishing returned). The transaction runs in a thread of its own, as a web request would, so that the
    mappings are watched from the start: the Bundles can be written before the last message is published
    (each message's task then finds its entity synced)."""
    import threading

    from django.db import connection, transaction

    from fhir_sync import services
    from fhir_sync.models import FhirMapping

    published: list[float] = []

    def request() -> None:
        try:
            with transaction.atomic():  # as fhir_sync.services.reconcile queues a first sync (a bulk sync)
                services.request_syncs("emr.patient", [patient.pk for patient in patients])
            published.append(time.perf_counter() - started)
        finally:
            connection.close()

    started = time.perf_counter()
    writer = threading.Thread(target=request)
    writer.start()
    deadline = time.monotonic() + 600
    while FhirMapping.objects.count() < len(patients):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {FhirMapping.objects.count()} of {len(patients)} synced in 600 s")
        time.sleep(0.05)
    mapped = time.perf_counter() - started
    writer.join()
    return mapped, published[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    from standins.process import StandinProcess

    with tempfile.TemporaryDirectory() as scratch, bench_database(DATABASE):
        from django.conf import settings

        from core.messaging.names import CELERY_QUEUE_ARGUMENTS, FHIR_QUEUE
        from core.messaging.topology import declare_topology

        declare_topology(settings.RABBITMQ_URL)
        _purge(settings.RABBITMQ_URL, FHIR_QUEUE, CELERY_QUEUE_ARGUMENTS)
        plain = StandinProcess("standins.hapi", Path(scratch) / "a.sqlite3", []).start()
        piped = StandinProcess("standins.hapi", Path(scratch) / "b.sqlite3", []).start()
        worker = None
        try:
            patients = make_patients(args.patients)
            seconds_a = plain_script(f"{plain.origin}/fhir", patients)
            seconds_min = plain_script(f"{plain.origin}/fhir", patients, prefer="return=minimal")
            worker = start_worker(f"{piped.origin}/fhir", args.concurrency, Path(scratch) / "worker.log")
            wait_ready(worker)
            seconds_b, seconds_published = through_the_pipeline(patients)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            plain.stop()
            piped.stop()
    rate_a, rate_b = args.patients / seconds_a, args.patients / seconds_b
    rate_min = args.patients / seconds_min
    print(f"fhir sync of {args.patients} patients (worker concurrency {args.concurrency}):")
    print(f"  (a) plain script, one POST after another        {rate_a:8.1f} resources/s  ({seconds_a:.2f} s)")
    print(f"  (a') plain script with Prefer: return=minimal   {rate_min:8.1f} resources/s  ({seconds_min:.2f} s)")
    print(f"  (b) outbox -> RabbitMQ -> Celery workers        {rate_b:8.1f} resources/s  ({seconds_b:.2f} s)")
    print(f"      (the enqueuing transaction's after-commit publishing returned after {seconds_published:.2f} s)")
    print(f"  ratio b/a = {rate_b / rate_a:.2f}; b/a' = {rate_b / rate_min:.2f}  (goal b/a' >= 1.0)")
    print("  (b) sends transaction Bundles of up to FHIR_BUNDLE_MAX_ENTRIES conditional entries with")
    print("  Prefer: return=minimal; (a) asks for each stored resource back, (a') does not.")


def _purge(url: str, queue: str, arguments: dict) -> None:
    import pika

    from core.messaging.topology import connection_parameters

    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.queue_purge(queue)
    finally:
        connection.close()


if __name__ == "__main__":
    main()
