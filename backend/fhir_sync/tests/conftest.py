"""Fixtures of the FHIR sync tests: real Celery workers (subprocesses on the test database and the test
vhost, consuming only queue `fhir`), patients in the EMR cache, and helpers to wait and count."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pika
import pytest
import requests
from django.conf import settings
from django.utils import timezone

from core.dbaccess import process_env
from core.messaging.names import CELERY_QUEUE_ARGUMENTS, FHIR_QUEUE
from core.messaging.topology import connection_parameters


def purge(*queues: str) -> None:
    conn = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    try:
        channel = conn.channel()
        for name in queues:
            arguments = {"x-queue-type": "quorum"} if name.endswith(".dlq") else CELERY_QUEUE_ARGUMENTS
            channel.queue_declare(name, durable=True, arguments=arguments)
            channel.queue_purge(name)
    finally:
        conn.close()


def queue_depth(name: str) -> int:
    conn = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    try:
        return conn.channel().queue_declare(name, passive=True).method.message_count
    finally:
        conn.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Worker:
    def __init__(self, log: Path, *, concurrency: int, env: dict[str, str], pool: str = "prefork"):
        self.log = log
        self.hostname = f"fhirsync-{uuid.uuid4().hex[:8]}@%h"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cdss.settings.test",
            **process_env(),
            "FHIR_BASE_URL": settings.FHIR_BASE_URL,
            "CIRCUIT_BREAKER_RESET_SECONDS": "3",
            **env,
        }
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "cdss", "worker", f"--pool={pool}",
                 f"--concurrency={concurrency}", f"--queues={FHIR_QUEUE}", f"--hostname={self.hostname}",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
                cwd=settings.BASE_DIR, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 60.0) -> "Worker":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in children_of(self.process.pid):
            os.kill(child, signal.SIGKILL)


@pytest.fixture
def fhir_workers(tmp_path, fhir):
    """start(concurrency=4, **env) -> a ready Worker on queue `fhir`; all are stopped after the test."""
    purge(FHIR_QUEUE, "fhir_sync.dlq")
    started: list[Worker] = []

    def start(concurrency: int = 4, pool: str = "prefork", **env: str) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(started)}.log", concurrency=concurrency, env=env, pool=pool)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()
    purge(FHIR_QUEUE)


@pytest.fixture
def make_patients():
    from emr.models import Patient

    def make(count: int, prefix: str = "p") -> list:
        run = uuid.uuid4().hex[:8]
        return [
            Patient.objects.create(
                emr_uuid=f"{prefix}-{run}-{i:04d}",
                emr_pid=str(i),
                mrn=f"MRN{i:05d}",
                family_name=f"Family{i}",
                given_name=f"Given{i}",
                birth_date=date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                sex="Female" if i % 2 else "Male",
                fetched_at=timezone.now(),
            )
            for i in range(count)
        ]

    return make


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def fhir_faults(process, **faults) -> None:
    if faults:
        requests.post(f"{process.origin}/__control__/faults", json=faults, timeout=5).raise_for_status()
    else:
        requests.delete(f"{process.origin}/__control__/faults", timeout=5).raise_for_status()


def resources_for(identifier_value: str, resource_type: str = "Patient") -> int:
    """How many resources carry our identifier, asked with plain HTTP (not through core.http, whose
    audit-count check would also see the workers' calls)."""
    from fhir_sync.identifiers import SYSTEMS

    answer = requests.get(
        f"{settings.FHIR_BASE_URL}/{resource_type}",
        params={"identifier": f"{SYSTEMS[resource_type]}|{identifier_value}", "_count": 0},
        headers={"Cache-Control": "no-cache", "Accept": "application/fhir+json"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["total"]
