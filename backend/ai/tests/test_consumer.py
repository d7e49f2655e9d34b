"""`manage.py consume_ai_events` for real: a subprocess on the test database and the test vhost (through
a TCP proxy that can cut it off), fed by messages published with pika. Its queues are private to this
test (bound to the same routing keys as ai_results and ai_progress), so a parallel session's consumer
never takes them."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pika
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from ai.models import AIJob, AIResult
from core.dbaccess import process_env
from core.messaging.publisher import Publisher
from core.messaging.topology import EXCHANGE, connection_parameters, work_queue_arguments
from core.tests.processes import TcpProxy
from notifications.consumers import user_group

from .factories import make_study, result_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def private_queues():
    """Queues like ai_results / ai_progress (same arguments, same dead-lettering), for this test only."""
    run = uuid.uuid4().hex[:8]
    names = {"ai.job.result": f"ai_results.test-{run}", "ai.job.progress": f"ai_progress.test-{run}"}
    conn = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    channel = conn.channel()
    for routing_key, name in names.items():
        channel.queue_declare(name, durable=True, arguments=work_queue_arguments(routing_key))
        channel.queue_bind(name, EXCHANGE, routing_key=routing_key)
    yield names, channel
    for name in names.values():
        channel.queue_delete(name)
    conn.close()


class ConsumerProcess:
    def __init__(self, log, queues: dict[str, str], broker_url: str):
        self.log = log
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cdss.settings.test",
            **process_env(),
            "RABBITMQ_TEST_URL": broker_url,
            "PYTHONUNBUFFERED": "1",
        }
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "consume_ai_events",
                    "--results-queue",
                    queues["ai.job.result"],
                    "--progress-queue",
                    queues["ai.job.progress"],
                    "--max-backoff",
                    "2",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, fragment: str, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(fragment) >= count:
                return
            assert self.process.poll() is None, f"the consumer exited:\n{self.text()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no {fragment!r} in the consumer's log after {timeout} s:\n{self.text()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def _job() -> AIJob:
    from acct.models import User

    study = make_study()
    requester = User.objects.create_user(username=f"consumer-{uuid.uuid4().hex[:8]}")
    return AIJob.objects.create(
        task="segmentation",
        model_name="mri-lesion-demo",
        patient=study.patient,
        study=study,
        requested_by=requester,
        input={"kind": "dicom-study", "study_instance_uid": study.study_instance_uid, "series_instance_uids": []},
        deadline=timezone.now() + timedelta(minutes=15),
    )


def _listen(user_id: int):
    """Joins a channel to the user's websocket group on the real channel layer; returns receive()."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user_id), channel)

    async def next_message(timeout: float):
        return await asyncio.wait_for(layer.receive(channel), timeout)

    return lambda timeout=20.0: async_to_sync(next_message)(timeout)["payload"]


def _wait_status(job: AIJob, status: str, timeout: float = 30.0) -> AIJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} is {job.status}, not {status}, after {timeout} s")


def test_the_consumer_applies_results_survives_an_outage_and_stops_on_sigterm(tmp_path, private_queues):
    queues, channel = private_queues
    proxy = TcpProxy.in_front_of(settings.RABBITMQ_URL)
    consumer = ConsumerProcess(tmp_path / "consumer.log", queues, proxy.rewrite(settings.RABBITMQ_URL))
    publisher = Publisher(settings.RABBITMQ_URL)
    try:
        consumer.wait_for("consuming ")
        job = _job()
        pushed = _listen(job.requested_by_id)
        publisher.publish("ai.job.progress", {"job_id": str(job.pk), "stage": "inference", "fraction": 0.5})
        job = _wait_status(job, "RUNNING")
        assert (job.progress_stage, job.progress_fraction) == ("inference", 0.5)
        assert pushed() == {
            "type": "ai.job.progress",
            "job_id": str(job.pk),
            "status": "RUNNING",
            "stage": "inference",
            "fraction": 0.5,
        }

        publisher.publish("ai.job.result", result_body(job), correlation_id=str(job.pk))
        _wait_status(job, "COMPLETED")
        result = AIResult.objects.get(job=job)
        assert result.status == "PRELIMINARY"
        assert pushed() == {
            "type": "ai.job.finished",
            "job_id": str(job.pk),
            "status": "COMPLETED",
            "result_id": result.pk,
            "reason": None,
        }

        publisher.publish("ai.job.result", result_body(job))  # a duplicate: acknowledged, changes nothing
        consumer.wait_for(": ignored")
        assert AIResult.objects.filter(job=job).count() == 1

        channel.basic_publish(EXCHANGE, "ai.job.result", b"{not json", pika.BasicProperties(message_id="broken-1"))
        consumer.wait_for("malformed ai.job.result message broken-1 rejected to the dead-letter queue")
        assert channel.queue_declare(queues["ai.job.result"], passive=True).method.message_count == 0

        proxy.stop()  # RabbitMQ unreachable for the consumer: it retries with back-off
        consumer.wait_for("reconnecting in", count=2)
        later = _job()
        publisher.publish("ai.job.result", result_body(later, status="FAILED", reason="unknown model 'x'"))
        proxy.start()
        later = _wait_status(later, "FAILED", timeout=45)
        assert later.failure_reason == "unknown model 'x'"
        assert consumer.text().count("consuming ") >= 2
    finally:
        publisher.close()
        code = consumer.stop()
        proxy.stop()
    assert code == 0, consumer.text()[-3000:]
    assert "stopped after 4 messages" in consumer.text()
