"""The job consumer: `python -m ai_server.consumer` (one process per model-serving slot).

Takes one message at a time from ai_jobs (prefetch 1, manual ack). The job runs in a worker thread
while this thread keeps the broker connection alive (heartbeats); the ack, dead-letter or requeue the
runner decided is sent only from this thread, as pika requires. On SIGTERM the consumer stops taking
messages and waits up to AI_SHUTDOWN_GRACE_SECONDS for the current job; a job still running then is
left unacknowledged, so the broker gives it to the next consumer when this process exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import pika
from pika.adapters.blocking_connection import BlockingChannel

from . import metrics
from .config import Settings
from .jobs import Decision, JobRunner, Services
from .messaging import JOBS_QUEUE, connection_parameters, declare

logger = logging.getLogger("ai_server.consumer")


@dataclass
class _Delivery:
    tag: int
    future: Future


class Consumer:
    def __init__(
        self,
        runner: JobRunner,
        url: str,
        *,
        grace_seconds: float = 60.0,
        reconnect_max: float = 30.0,
        heartbeat: int = 30,
    ):
        self.runner, self.url, self.heartbeat = runner, url, heartbeat
        self.grace_seconds, self.reconnect_max = grace_seconds, reconnect_max
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self.current: _Delivery | None = None
        self.jobs_done = 0

    def stop(self, *_args) -> None:
        logger.info("stopping: no new jobs; waiting for the current one")
        self.stopping.set()

    def run(self, *, max_jobs: int | None = None) -> None:
        """Consume until stopped (or after max_jobs, for tests), reconnecting with back-off."""
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self._consume(max_jobs)
                delay = 1.0
            except pika.exceptions.AMQPError as exc:
                metrics.CONSUMER_CONNECTED.set(0)
                if self.stopping.is_set():
                    break
                logger.warning("broker connection lost (%s); reconnecting in %.0f s", exc.__class__.__name__, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, self.reconnect_max)
        metrics.CONSUMER_CONNECTED.set(0)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _consume(self, max_jobs: int | None) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.url, heartbeat=self.heartbeat))
        try:
            channel = connection.channel()
            declare(channel)
            channel.basic_qos(prefetch_count=1)
            tag = channel.basic_consume(JOBS_QUEUE, self._on_message)
            metrics.CONSUMER_CONNECTED.set(1)
            logger.info("consuming %s", JOBS_QUEUE)
            stop_requested_at = None
            while True:
                if self.current is None:
                    connection.process_data_events(time_limit=0.5)
                else:  # wake as soon as the job ends: the next message comes only after this one's ack
                    wait([self.current.future], timeout=0.05)
                    connection.process_data_events(time_limit=0)
                self._finish_if_done(channel)
                if max_jobs is not None and self.jobs_done >= max_jobs and self.current is None:
                    self.stopping.set()
                if self.stopping.is_set():
                    if stop_requested_at is None:
                        stop_requested_at = time.monotonic()
                        channel.basic_cancel(tag)  # take no new message; the current one may finish
                    if self.current is None:
                        return
                    if time.monotonic() - stop_requested_at > self.grace_seconds:
                        logger.warning("job still running after %.0f s: left for redelivery", self.grace_seconds)
                        return
        finally:
            if connection.is_open:
                connection.close()  # unacknowledged deliveries go back to the queue

    def _on_message(self, channel: BlockingChannel, method, properties, body: bytes) -> None:
        headers = properties.headers or {}
        delivery_count = int(headers.get("x-delivery-count", 0) or 0)
        request_id = str(headers.get("x-request-id", "") or "")
        future = self.executor.submit(self.runner.handle, body, delivery_count=delivery_count, request_id=request_id)
        self.current = _Delivery(method.delivery_tag, future)

    def _finish_if_done(self, channel: BlockingChannel) -> None:
        if self.current is None or not self.current.future.done():
            return
        delivery, self.current = self.current, None
        try:
            decision = delivery.future.result()
        except Exception:  # the runner itself broke: give the message back
            logger.exception("job runner raised")
            decision = Decision.REQUEUE
        if decision is Decision.ACK:
            channel.basic_ack(delivery.tag)
        elif decision is Decision.REJECT:
            channel.basic_reject(delivery.tag, requeue=False)
        else:
            channel.basic_nack(delivery.tag, requeue=True)
        self.jobs_done += 1


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("AI_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings = Settings()
    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
    services = Services.build(settings)
    consumer = Consumer(
        JobRunner(services),
        settings.rabbitmq_url,
        grace_seconds=settings.shutdown_grace_seconds,
        reconnect_max=settings.reconnect_max_seconds,
        heartbeat=settings.rabbitmq_heartbeat_seconds,
    )
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    consumer.run()
    if consumer.current is not None:  # a job still computing was left for redelivery: do not wait for it
        logging.shutdown()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
