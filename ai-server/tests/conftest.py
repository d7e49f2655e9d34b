"""Fixtures on the real servers `scripts/services.sh up` starts: RabbitMQ (the cdss_ai_test vhost, used by
no other suite), Orthanc, and the S3 stand-in (buckets prefixed per run, so runs never share objects)."""

import json
import os
import time
import uuid
from pathlib import Path

import pika
import pytest
from dotenv import dotenv_values

from ai_server.config import Settings
from ai_server.jobs import JobRunner, Services
from ai_server.messaging import CREATE_KEY, EXCHANGE, QUEUES, connection_parameters, declare

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "ai-server" / "models"
TEST_VHOST = "cdss_ai_test"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    base = Settings(_env_file=ROOT / ".env")
    # Each run makes buckets of its own, which only the object store's admin account may (the ai-server's
    # own account, and what it may not do, are tested in backend/core/tests/test_storage_rights.py).
    admin = {**dotenv_values(ROOT / ".env"), **os.environ}
    if not admin.get("S3_ADMIN_ACCESS_KEY") or not admin.get("S3_ADMIN_SECRET_KEY"):
        pytest.exit("S3_ADMIN_ACCESS_KEY not set: run `make env` and `scripts/services.sh up` first", 2)
    return base.isolated(
        vhost=TEST_VHOST,
        bucket_prefix=f"t{uuid.uuid4().hex[:8]}-",
        s3_access_key=admin["S3_ADMIN_ACCESS_KEY"],
        s3_secret_key=admin["S3_ADMIN_SECRET_KEY"],
        device="cpu",
        model_cache_dir=tmp_path_factory.mktemp("model-cache"),
        retry_delay_seconds=0.1,
        service_token="test-service-token",
    )


@pytest.fixture(scope="session")
def shipped_models() -> list[Path]:
    return sorted(path.parent for path in MODELS_DIR.glob("*/*/manifest.json"))


@pytest.fixture(scope="session")
def services(settings, shipped_models) -> Services:
    """The service's parts with every shipped model published to this run's registry bucket."""
    from ai_server.registry import Registry
    from ai_server.storage import ObjectStore

    registry = Registry(ObjectStore(settings), settings.models_bucket, settings.model_cache_dir, "cpu")
    for directory in shipped_models:
        registry.add(directory)
    return Services.build(settings)


@pytest.fixture
def channel(settings):
    """A channel on the test vhost with the topology declared and every AI queue emptied."""
    connection = pika.BlockingConnection(connection_parameters(settings.rabbitmq_url))
    channel = connection.channel()
    declare(channel)
    for queue in QUEUES:
        channel.queue_purge(queue)
        channel.queue_purge(f"{queue}.dlq")
    yield channel
    connection.close()


@pytest.fixture
def runner(services):
    runner = JobRunner(services)
    yield runner
    runner.publisher.close()


def publish_job(channel, body, *, raw: bytes | None = None) -> None:
    channel.basic_publish(
        EXCHANGE,
        CREATE_KEY,
        raw if raw is not None else json.dumps(body).encode(),
        pika.BasicProperties(delivery_mode=2, content_type="application/json", headers={"x-request-id": "test-req"}),
    )


def drain(channel, queue: str, *, count: int, timeout: float = 60.0) -> list:
    """Wait for `count` messages on `queue` (acked as read); returns their bodies, decoded when JSON."""
    bodies, deadline = [], time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        method, _properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        try:
            bodies.append(json.loads(body))
        except ValueError:
            bodies.append(body)
    return bodies


def new_job(model: str, job_input: dict, **extra) -> dict:
    return {
        "job_id": str(uuid.uuid4()),
        "attempt": 1,
        "model": model,
        "model_version": None,
        "input": job_input,
        "requested_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        **extra,
    }
