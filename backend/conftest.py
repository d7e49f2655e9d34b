"""Fixtures shared by every backend test: real broker channels, real worker processes."""

import pika
import pytest
from django.conf import settings

from core.messaging.topology import WORK_QUEUES, connection_parameters, declare, declare_topology
from core.storage import ensure_buckets


@pytest.fixture
def broker_channel():
    """A channel on the test vhost with the topology declared and every queue empty."""
    connection = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    channel = connection.channel()
    declare(channel)
    for queue in WORK_QUEUES:
        channel.queue_purge(queue.name)
        channel.queue_purge(queue.dead_letter_queue)
    yield channel
    connection.close()


@pytest.fixture(scope="session", autouse=True)
def test_namespaces():
    """What `manage.py bootstrap` does at start-up, done once for the test vhost and test buckets."""
    declare_topology(settings.RABBITMQ_URL)
    ensure_buckets()
