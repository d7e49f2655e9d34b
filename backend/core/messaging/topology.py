"""The RabbitMQ topology, declared as code. Declaring is idempotent: run at start-up and in tests.

    cdss.topic (topic, durable) --ai.job.create----> ai_jobs      --rejected/over limit--> cdss.dlx --> ai_jobs.dlq
                                --ai.job.result----> ai_results   ...                                  ai_results.dlq
                                --ai.job.progress--> ai_progress  ...                                  ai_progress.dlq
                                --fhir.sync--------> fhir_sync    ...                                  fhir_sync.dlq

ai_jobs is consumed by the ai-server; ai_results and ai_progress (published by the ai-server) by Django's
`manage.py consume_ai_events` (docs/ai.md). fhir_sync.dlq holds a notice of each FHIR sync given up
(fhir_sync.services). Every name is in core.messaging.names.

Work queues are quorum queues (replicated, durable, with a delivery limit so a message that keeps
crashing its consumer is dead-lettered instead of looping forever). Each keeps its routing key when
dead-lettered, so its dead-letter queue is bound to the dead-letter exchange by the same key.
"""

import logging

import pika
from django.conf import settings
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

from core.messaging.names import (
    CELERY_QUEUE_ARGUMENTS,
    CELERY_QUEUES,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    WORK_QUEUES,
)

logger = logging.getLogger(__name__)

DELIVERY_LIMIT = 5  # redeliveries before a poison message is dead-lettered


def connection_parameters(url: str | None = None, *, timeout: float = 5.0) -> pika.URLParameters:
    """Parameters that fail within `timeout` when the broker is away instead of hanging."""
    params = pika.URLParameters(url or settings.RABBITMQ_URL)
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = max(timeout, 30.0)
    params.connection_attempts = 1
    params.heartbeat = 30
    params.client_properties = {"connection_name": "cdss-backend"}
    return params


def work_queue_arguments(routing_key: str) -> dict:
    """A work queue's arguments: quorum, a delivery limit, dead-lettered under its own routing key."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": routing_key,
    }


def declare(channel: BlockingChannel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="topic", durable=True)
    for queue in WORK_QUEUES:
        channel.queue_declare(queue.name, durable=True, arguments=work_queue_arguments(queue.routing_key))
        channel.queue_bind(queue.name, EXCHANGE, routing_key=queue.routing_key)
        channel.queue_declare(queue.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(queue.dead_letter_queue, DEAD_LETTER_EXCHANGE, routing_key=queue.routing_key)


def declare_topology(url: str | None = None) -> None:
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        declare(connection.channel())
        declare_celery_queues(connection)
    finally:
        connection.close()


def declare_celery_queues(connection: pika.BlockingConnection) -> None:
    """Celery's queues as quorum queues, each bound to its direct exchange of the same name (Celery's
    processes declare none of them: cdss/celery.py). A queue's type cannot change in place: an older
    classic queue of the same name is deleted first, but only while it is empty (if it holds messages it
    is left alone and the workers report the mismatch, so nothing is lost)."""
    for name in CELERY_QUEUES:
        channel = connection.channel()
        channel.exchange_declare(name, exchange_type="direct", durable=True)
        try:
            channel.queue_declare(name, durable=True, arguments=CELERY_QUEUE_ARGUMENTS)
            channel.queue_bind(name, name, routing_key=name)
            channel.close()
            continue
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 406:  # PRECONDITION_FAILED: declared before with other arguments
                raise
        channel = connection.channel()
        try:
            channel.queue_delete(name, if_empty=True)
            channel.queue_declare(name, durable=True, arguments=CELERY_QUEUE_ARGUMENTS)
            channel.queue_bind(name, name, routing_key=name)
            channel.close()
        except ChannelClosedByBroker as exc:
            logger.warning("Celery queue %s keeps its old type: %s", name, exc)
