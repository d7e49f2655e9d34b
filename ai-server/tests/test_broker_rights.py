"""The ai-server's own RabbitMQ account (AI_RABBITMQ_URL; scripts/services.sh, docs/security.md "Broker
accounts") reaches its three queues and nothing else: a compromised ai-server (it parses untrusted DICOM)
cannot read Django's queues, publish a Celery task or a FHIR sync, nor announce a job of its own."""

import json
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from conftest import ROOT, TEST_VHOST
from dotenv import dotenv_values

from ai_server.messaging import EXCHANGE, PROGRESS_KEY, RESULT_KEY, connection_parameters, declare

ACCESS_REFUSED = 403


@pytest.fixture
def ai_channel():
    url = os.environ.get("AI_RABBITMQ_URL") or dotenv_values(ROOT / ".env").get("AI_RABBITMQ_URL")
    assert url, "AI_RABBITMQ_URL is set in .env (scripts/env.sh)"
    params = connection_parameters(urlunsplit(urlsplit(url)._replace(path=f"/{TEST_VHOST}")))
    connection = pika.BlockingConnection(params)
    yield connection
    if connection.is_open:
        connection.close()


def refused(connection, act) -> int:
    """Runs act(channel) on a fresh channel; returns the reply code of the channel's closing."""
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        act(channel)
        channel.basic_qos(prefetch_count=1)  # a round trip: a refused publish is reported on the next call
    return closed.value.reply_code


def test_the_ai_account_declares_its_queues_consumes_jobs_and_publishes_results(ai_channel):
    channel = ai_channel.channel()
    declare(channel)
    channel.confirm_delivery()
    for key in (RESULT_KEY, PROGRESS_KEY):
        body = json.dumps({"job_id": f"rights-{uuid.uuid4().hex[:6]}", "probe": True}).encode()
        channel.basic_publish(EXCHANGE, key, body, mandatory=True)  # confirmed, or it raises
    channel.basic_get("ai_jobs")  # allowed (empty or not: nothing is taken without an ack)


@pytest.mark.parametrize(
    "what, act",
    [
        ("read Celery's default queue", lambda ch: ch.basic_get("default")),
        ("read the FHIR queue", lambda ch: ch.basic_get("fhir")),
        ("declare a queue of its own", lambda ch: ch.queue_declare(f"exfil-{uuid.uuid4().hex[:6]}")),
        ("publish a Celery task", lambda ch: ch.basic_publish("", "fhir", b"{}")),
        ("announce an AI job", lambda ch: ch.basic_publish(EXCHANGE, "ai.job.create", b"{}")),
        ("publish under another key", lambda ch: ch.basic_publish(EXCHANGE, "fhir.sync", b"{}")),
    ],
)
def test_the_ai_account_is_refused_everything_else(ai_channel, what, act):
    assert refused(ai_channel, act) == ACCESS_REFUSED, what
