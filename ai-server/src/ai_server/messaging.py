"""RabbitMQ for the ai-server: the queues it uses, declared exactly as the backend declares them
(backend/core/messaging/topology.py; declaring with other arguments would be refused), and a publisher
whose messages count as sent only once the broker confirmed them."""

import contextlib
import json
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

EXCHANGE = "cdss.topic"
DEAD_LETTER_EXCHANGE = "cdss.dlx"
DELIVERY_LIMIT = 5  # as the backend's topology: deliveries before a message is dead-lettered
JOBS_QUEUE = "ai_jobs"
CREATE_KEY = "ai.job.create"
PROGRESS_KEY = "ai.job.progress"
RESULT_KEY = "ai.job.result"
# Queue name -> routing key. The ai-server consumes ai_jobs and declares Django's result and progress
# queues too, so that what it publishes before Django's consumer ever ran is kept, not dropped.
QUEUES = {JOBS_QUEUE: CREATE_KEY, "ai_results": RESULT_KEY, "ai_progress": PROGRESS_KEY}


def connection_parameters(url: str, *, timeout: float = 10.0, heartbeat: int = 30) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.heartbeat = heartbeat
    params.client_properties = {"connection_name": "cdss-ai-server"}
    return params


def declare(channel: BlockingChannel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="topic", durable=True)
    for queue, routing_key in QUEUES.items():
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": routing_key,
            },
        )
        channel.queue_bind(queue, EXCHANGE, routing_key=routing_key)
        channel.queue_declare(f"{queue}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(f"{queue}.dlq", DEAD_LETTER_EXCHANGE, routing_key=routing_key)


STALE_CONNECTION = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ConnectionWrongStateError,
    pika.exceptions.ChannelWrongStateError,
)


class Publisher:
    """Persistent publishing on its own connection (opened on first use, reopened after a failure):
    confirmed and mandatory by default, or, for courtesies such as progress, on a second channel that
    does not wait for the broker. Use it from one thread only."""

    def __init__(self, url: str):
        self.url = url
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._unconfirmed: BlockingChannel | None = None

    def _open(self) -> BlockingChannel:
        if self._channel is None or self._channel.is_closed:
            self.close()
            self._connection = pika.BlockingConnection(connection_parameters(self.url))
            self._channel = self._connection.channel()
            declare(self._channel)
            self._channel.confirm_delivery()
        return self._channel

    def _open_unconfirmed(self) -> BlockingChannel:
        self._open()
        if self._unconfirmed is None or self._unconfirmed.is_closed:
            self._unconfirmed = self._connection.channel()
        return self._unconfirmed

    def publish(
        self, routing_key: str, body: dict[str, Any], *, job_id: str, request_id: str = "", confirmed: bool = True
    ) -> None:
        """Raises when the broker did not confirm (unroutable, nacked, connection lost). With confirmed=False
        it returns once the message is written to the socket: a lost one is not noticed."""
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            correlation_id=job_id,
            headers={"x-request-id": request_id} if request_id else {},
        )
        payload = json.dumps(body, default=str).encode()
        for attempt in (1, 2):
            try:
                if confirmed:
                    self._open().basic_publish(EXCHANGE, routing_key, payload, properties, mandatory=True)
                else:
                    self._open_unconfirmed().basic_publish(EXCHANGE, routing_key, payload, properties)
                return
            except STALE_CONNECTION:  # idle between jobs, its heartbeats unanswered: the broker dropped it
                self.close()
                if attempt == 2:
                    raise
            except Exception:
                self.close()
                raise

    def close(self) -> None:
        connection, self._connection, self._channel, self._unconfirmed = self._connection, None, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing left to do
                connection.close()
