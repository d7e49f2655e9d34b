"""Publishing to `cdss.topic` with publisher confirms, persistent messages and message ids.

`publish()` returns only once the broker has confirmed the message is stored in a queue; anything
else raises PublishError, so a caller (the outbox relay, later) can keep the message and try again.
One connection per thread: pika's BlockingConnection is not thread-safe.
"""

import contextlib
import json
import logging
import threading
import time
import uuid
from typing import Any

import pika
from django.conf import settings
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError, NackError, UnroutableError

from core import context

from .topology import EXCHANGE, connection_parameters

logger = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not confirm the message; it must be published again."""


class Publisher:
    def __init__(self, url: str | None = None, *, exchange: str = EXCHANGE, app_id: str = "cdss-backend"):
        self.url = url
        self._exchange = exchange
        self._app_id = app_id
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def publish(
        self,
        routing_key: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """Publish `payload` as JSON and wait for the broker's confirm. Returns the message id."""
        message_id = message_id or str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            correlation_id=correlation_id or message_id,
            timestamp=int(time.time()),
            app_id=self._app_id,
            headers={"x-request-id": context.current().request_id, **(headers or {})},
        )
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        # A connection that died while idle is only noticed on use: reconnect once, then give up.
        for attempt in (1, 2):
            try:
                self._open_channel().basic_publish(self._exchange, routing_key, body, properties, mandatory=True)
                return message_id
            except UnroutableError as exc:
                raise PublishError(f"no queue is bound to routing key {routing_key!r} on {self._exchange}") from exc
            except NackError as exc:
                raise PublishError(f"the broker refused message {message_id} ({routing_key})") from exc
            except AMQPError as exc:
                self.close()
                if attempt == 2:
                    raise PublishError(f"RabbitMQ is unreachable: {exc.__class__.__name__} {exc}") from exc
                logger.warning("publish to %s failed (%s); reconnecting once", routing_key, exc.__class__.__name__)
        raise AssertionError("unreachable")

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(AMQPError):
                connection.close()

    def _open_channel(self) -> BlockingChannel:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = pika.BlockingConnection(connection_parameters(self.url))
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel


_local = threading.local()


def publish(routing_key: str, payload: dict[str, Any], **kwargs: Any) -> str:
    """Publish through this thread's publisher on settings.RABBITMQ_URL (see Publisher.publish)."""
    publisher = getattr(_local, "publisher", None)
    if publisher is None or publisher.url != settings.RABBITMQ_URL:
        publisher = _local.publisher = Publisher(settings.RABBITMQ_URL)
    return publisher.publish(routing_key, payload, **kwargs)
