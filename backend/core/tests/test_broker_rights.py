"""Each process kind's RabbitMQ account (scripts/services.sh, provision_broker_accounts; docs/security.md,
"Broker accounts") does what its processes do and is refused the rest. Checked in the tests' vhost, where
the owner account declared the topology (conftest). The ai-server's account (`cdss-ai`) is checked here
too: a compromised ai-server (it parses untrusted DICOM) cannot read Django's queues, publish a Celery
task or a FHIR sync, nor announce a job of its own."""

import os
import uuid
from urllib.parse import urlsplit

import pika
import pytest
from celery import current_app
from django.conf import settings

from core.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    WORK_QUEUES,
    connection_parameters,
    work_queue_arguments,
)

ACCESS_REFUSED = 403
CELERY_EXCHANGE = "default"  # one of Celery's direct exchanges (cdss/celery.py)
NOWHERE = "rights-probe"  # a routing key no queue is bound with: a permitted publish is confirmed and dropped


def account_url(kind: str) -> str:
    url = os.environ.get(f"{kind}_RABBITMQ_URL")
    assert url, f"{kind}_RABBITMQ_URL is set in .env (scripts/env.sh)"
    return urlsplit(url)._replace(path=urlsplit(settings.RABBITMQ_URL).path).geturl()  # the tests' vhost


@pytest.fixture
def connect(broker_channel):
    """connect("WEB") -> a connection as that account. Afterwards the owner empties what a permitted
    publish may have queued (broker_channel also empties every work queue before the test)."""
    opened = []

    def make(kind: str) -> pika.BlockingConnection:
        opened.append(pika.BlockingConnection(connection_parameters(account_url(kind))))
        return opened[-1]

    yield make
    for connection in opened:
        if connection.is_open:
            connection.close()
    for queue in ("ai_jobs", "ai_results", "ai_progress", "fhir_sync.dlq"):
        broker_channel.queue_purge(queue)


def publish(connection, exchange: str, routing_key: str) -> None:
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(exchange, routing_key, b'{"probe": true}')  # confirmed, or it raises


def refused(connection, act) -> int:
    """Runs act(channel) on a fresh channel; returns the reply code the broker closed it with."""
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        act(channel)
        channel.basic_qos(prefetch_count=1)  # a round trip: a refused publish is reported on the next call
    return closed.value.reply_code


def test_the_web_account_publishes_jobs_and_celery_tasks(connect):
    web = connect("WEB")
    publish(web, EXCHANGE, "ai.job.create")
    publish(web, CELERY_EXCHANGE, NOWHERE)


def test_the_web_account_sends_a_celery_task_through_celery_declaring_nothing(broker_channel):
    with current_app.connection_for_write(account_url("WEB")) as connection:
        current_app.send_task(
            "core.rights_probe", connection=connection, exchange=CELERY_EXCHANGE, routing_key=NOWHERE, retry=False
        )


def test_the_worker_account_consumes_celery_queues_and_publishes_dead_letters_and_jobs(connect):
    worker = connect("WORKER")
    worker.channel().basic_get(CELERY_EXCHANGE)  # read (nothing taken: no acknowledgement)
    publish(worker, DEAD_LETTER_EXCHANGE, "fhir.sync")
    publish(worker, EXCHANGE, "ai.job.create")
    publish(worker, CELERY_EXCHANGE, NOWHERE)
    worker.channel().queue_declare(f"{uuid.uuid4().hex}.reply.celery.pidbox", auto_delete=True)  # its own


def test_the_ai_account_declares_its_queues_consumes_jobs_and_publishes_results(connect):
    ai = connect("AI")
    channel = ai.channel()
    for queue in WORK_QUEUES:
        if queue.name.startswith("ai_"):  # as the ai-server declares them (ai_server.messaging.declare)
            channel.queue_declare(queue.name, durable=True, arguments=work_queue_arguments(queue.routing_key))
    publish(ai, EXCHANGE, "ai.job.result")
    publish(ai, EXCHANGE, "ai.job.progress")
    ai.channel().basic_get("ai_jobs")


def test_the_beat_and_event_accounts_do_their_part(connect):
    publish(connect("BEAT"), CELERY_EXCHANGE, NOWHERE)
    events = connect("EVENTS")
    events.channel().basic_get("ai_results")
    events.channel().basic_get("ai_progress")
    publish(events, CELERY_EXCHANGE, NOWHERE)


REFUSED = {
    "WEB": [
        ("consume a Celery queue", lambda ch: ch.basic_get("default")),
        ("read the ai-server's results", lambda ch: ch.basic_get("ai_results")),
        ("declare a queue", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
        ("redeclare a Celery exchange", lambda ch: ch.exchange_declare("default", "direct", durable=True)),
        ("publish a result as if from the ai-server", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.result", b"{}")),
        ("publish a dead letter", lambda ch: ch.basic_publish(DEAD_LETTER_EXCHANGE, "fhir.sync", b"{}")),
    ],
    "BEAT": [
        ("consume a Celery queue", lambda ch: ch.basic_get("default")),
        ("announce an AI job", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.create", b"{}")),
        ("declare a queue", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
    ],
    "WORKER": [
        ("read the AI jobs", lambda ch: ch.basic_get("ai_jobs")),
        ("read the ai-server's results", lambda ch: ch.basic_get("ai_results")),
        ("delete a Celery queue", lambda ch: ch.queue_delete("default", if_empty=True)),
        ("declare a queue of its choice", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
        ("publish a result as if from the ai-server", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.result", b"{}")),
        ("dead-letter an AI job", lambda ch: ch.basic_publish(DEAD_LETTER_EXCHANGE, "ai.job.create", b"{}")),
    ],
    "AI": [
        ("read Celery's default queue", lambda ch: ch.basic_get("default")),
        ("read the FHIR queue", lambda ch: ch.basic_get("fhir")),
        ("declare a queue of its own", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
        ("publish a Celery task", lambda ch: ch.basic_publish("", "default", b"{}")),
        ("announce an AI job", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.create", b"{}")),
        ("publish under another key", lambda ch: ch.basic_publish(EXCHANGE, "fhir.sync", b"{}")),
    ],
    "EVENTS": [
        ("read the AI jobs", lambda ch: ch.basic_get("ai_jobs")),
        ("consume a Celery queue", lambda ch: ch.basic_get("default")),
        ("publish a result as if from the ai-server", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.result", b"{}")),
        ("declare a queue", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
    ],
}


@pytest.mark.parametrize(
    "kind, what, act", [(kind, what, act) for kind, cases in REFUSED.items() for what, act in cases]
)
def test_each_account_is_refused_the_rest(connect, kind, what, act):
    assert refused(connect(kind), act) == ACCESS_REFUSED, f"{kind}: {what}"
