"""notify_users(): delivered over the real Redis channel layer after commit, never after a rollback."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from notifications.consumers import NotificationConsumer
from notifications.services import notify_users

pytestmark = pytest.mark.django_db(transaction=True)


async def _listening(user_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = type("User", (), {"is_authenticated": True, "pk": user_id})()
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def _commit(user_ids, payload):
    with transaction.atomic():
        notify_users(user_ids, payload)


def _roll_back(user_ids, payload):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify_users(user_ids, payload)
        raise RuntimeError("the change failed")


def test_delivered_after_commit_to_each_recipient_only():
    async def scenario():
        alice, bob = await _listening(701), await _listening(702)
        await sync_to_async(_commit)([701], {"kind": "job_finished", "job": 9})
        assert await alice.receive_json_from(timeout=10) == {"kind": "job_finished", "job": 9}
        assert await bob.receive_nothing(timeout=0.5)
        await alice.disconnect()
        await bob.disconnect()

    async_to_sync(scenario)()


def test_rolled_back_change_notifies_nobody():
    async def scenario():
        carol = await _listening(703)
        await sync_to_async(_roll_back)([703], {"kind": "never"})
        assert await carol.receive_nothing(timeout=0.5)
        await carol.disconnect()

    async_to_sync(scenario)()


def test_a_sockets_wait_on_redis_ends_before_the_redis_client_gives_up_reading():
    """Each socket waits on Redis with a blocking pop of brpop_timeout seconds. A read timeout no longer
    than that (redis-py's default equals it) closed sockets under load with 1011: the soak benchmark saw
    all ten go within a minute. The connections the layer makes must read for longer."""
    from channels.layers import get_channel_layer
    from channels_redis.utils import create_pool

    layer = get_channel_layer()
    for host in layer.hosts:
        assert create_pool(host).connection_kwargs["socket_timeout"] > 2 * layer.brpop_timeout
