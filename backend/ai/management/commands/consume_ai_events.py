"""`manage.py consume_ai_events`: the Django side of the ai-server's reports (docs/ai.md).

Consumes ai_results and ai_progress with manual acknowledgement and a small prefetch; each message is
handled by ai.events in its own transaction and acknowledged after it committed. A malformed message is
rejected without requeue (to the queue's dead-letter queue, with a log line); an unexpected error
requeues it (the quorum queue's delivery limit dead-letters a message that keeps failing). The queues are
`manage.py bootstrap`'s to declare (its broker account may only read them); a lost connection, or a queue
not declared yet, is retried with a capped exponential back-off; SIGTERM or SIGINT stops after the
message in hand.
"""

import logging
import signal
import time

import pika
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from pika.exceptions import AMQPError

from ai import events
from core import context, metrics_endpoint
from core.messaging import names
from core.messaging.topology import connection_parameters
from core.outage import dependency_of

logger = logging.getLogger("ai.consumer")


class Consumer:
    def __init__(self, *, url: str, queues: list[str], prefetch: int, max_backoff: float, write=print):
        self.url, self.queues, self.prefetch, self.max_backoff = url, queues, prefetch, max_backoff
        self.write = write
        self.stopping = False
        self.handled = 0

    def stop(self, *_args) -> None:
        self.stopping = True

    def run(self) -> None:
        delay = 1.0
        while not self.stopping:
            try:
                self._consume()
                delay = 1.0
            except AMQPError as exc:
                if self.stopping:
                    break
                logger.warning(
                    "RabbitMQ connection lost or refused (%s: %s); reconnecting in %.0f s",
                    exc.__class__.__name__,
                    exc,
                    delay,
                )
                self._sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        self.write(f"stopped after {self.handled} messages")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(0.2)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.url))
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            for queue in self.queues:
                channel.basic_consume(queue, self._on_message, auto_ack=False)
            self.write(f"consuming {', '.join(self.queues)} (prefetch {self.prefetch})")
            while not self.stopping:
                connection.process_data_events(time_limit=1)
        finally:
            if connection.is_open:
                try:
                    connection.close()
                except AMQPError as exc:
                    logger.debug("closing the consumer's connection: %s", exc)

    def _on_message(self, channel, method, properties, body: bytes) -> None:
        request_id = context.accepted_request_id((properties.headers or {}).get("x-request-id"))
        token = context.activate(context.RequestContext(request_id=request_id))
        try:
            outcome = self._handle(channel, method.routing_key, body)
        except events.MalformedEvent as exc:
            logger.error(
                "malformed %s message %s rejected to the dead-letter queue: %s",
                method.routing_key,
                properties.message_id,
                exc,
            )
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        except Exception:
            logger.exception("handling %s message %s failed; requeued", method.routing_key, properties.message_id)
            close_old_connections()
            time.sleep(1.0)  # no hot loop while the database is away
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        finally:
            context.deactivate(token)
        channel.basic_ack(method.delivery_tag)
        self.handled += 1
        logger.info("%s message %s: %s", method.routing_key, properties.message_id, outcome)

    def _handle(self, channel, routing_key: str, body: bytes) -> str:
        """events.handle, tried again while our own database (or Redis) is away: the message stays unacknowledged
        meanwhile, so an outage spends none of its deliveries (the delivery limit is for poison messages, and
        a requeue per failed try would dead-letter every result that arrives during a few seconds' outage)."""
        delay = 1.0
        while True:
            close_old_connections()  # a long-lived process: drop connections the database closed
            try:
                return events.handle(routing_key, body)
            except Exception as exc:
                if self.stopping or not (platform := dependency_of(exc)):
                    raise
                logger.warning("%s message waits for the %s (%s); again in %.0f s", routing_key, platform, exc, delay)
                channel.connection.sleep(delay)  # keeps the connection's heartbeats going
                delay = min(delay * 2, self.max_backoff)


class Command(BaseCommand):
    help = "Consume the ai-server's ai.job.result and ai.job.progress messages (runs until SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--results-queue", default=names.AI_RESULTS.name)
        parser.add_argument("--progress-queue", default=names.AI_PROGRESS.name)
        parser.add_argument("--prefetch", type=int, default=4)
        parser.add_argument("--max-backoff", type=float, default=30.0, help="longest wait between reconnects (s)")

    def handle(self, *args, **options):
        metrics_endpoint.serve_from_env()  # compose scrapes this process there
        consumer = Consumer(
            url=settings.RABBITMQ_URL,
            queues=[options["results_queue"], options["progress_queue"]],
            prefetch=options["prefetch"],
            max_backoff=options["max_backoff"],
            write=lambda line: (self.stdout.write(line), self.stdout.flush()),
        )
        signal.signal(signal.SIGTERM, consumer.stop)
        signal.signal(signal.SIGINT, consumer.stop)
        consumer.run()
