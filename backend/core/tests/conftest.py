"""Fixtures of the platform's tests."""

import uuid

import pytest

from core.messaging.names import EXCHANGE


@pytest.fixture
def scratch_queue(broker_channel):
    """(routing key, queue) on cdss.topic for this test alone: a queue the broker names, bound to a key of
    its own and gone with the channel's connection, so the publisher's tests use no queue of the product."""
    routing_key = f"test.scratch.{uuid.uuid4().hex}"
    name = broker_channel.queue_declare("", exclusive=True).method.queue
    broker_channel.queue_bind(name, EXCHANGE, routing_key=routing_key)
    return routing_key, name
