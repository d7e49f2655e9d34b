"""The real servers under the platform: MariaDB, Redis (cache and sessions), Channels over Redis."""

import subprocess
import sys

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection

from notifications.consumers import NotificationConsumer, user_group


@pytest.mark.django_db
def test_database_is_mariadb_and_round_trips_utf8mb4():
    assert connection.vendor == "mysql"
    assert connection.mysql_is_mariadb
    name = "김민수-\U0001f9e0"  # Hangul and an emoji: needs utf8mb4, not MySQL's 3-byte utf8
    get_user_model().objects.create_user(username=name, password="x" * 16)
    assert get_user_model().objects.get(username=name).username == name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'acct_user' AND COLUMN_NAME = 'username'"
        )
        assert cursor.fetchone()[0] == "utf8mb4"


def test_redis_cache_round_trip():
    cache.set("round-trip", {"patient": "p-1", "n": 3}, timeout=30)
    assert cache.get("round-trip") == {"patient": "p-1", "n": 3}
    cache.delete("round-trip")
    assert cache.get("round-trip") is None


@pytest.mark.django_db
def test_sessions_live_in_redis(client):
    user = get_user_model().objects.create_user(username="sess", password="x" * 16)
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    raw = redis.Redis.from_url(settings.REDIS_URL)
    assert raw.keys(f"*{session_key}*"), "the session was not written to Redis"


@pytest.mark.django_db(transaction=True)
def test_websocket_refuses_anonymous_and_delivers_group_messages_through_redis():
    async def scenario():
        anonymous = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
        anonymous.scope["user"] = type("Anonymous", (), {"is_authenticated": False})()
        connected, code = await anonymous.connect()
        assert not connected and code == 4401

        user = type("U", (), {"is_authenticated": True, "pk": 987654})()
        communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await get_channel_layer().group_send(user_group(user.pk), {"type": "notify", "payload": {"job": 1}})
        assert await communicator.receive_json_from(timeout=5) == {"job": 1}
        await communicator.disconnect()

    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    async_to_sync(scenario)()


def test_missing_required_setting_fails_fast_with_its_name():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "cdss.settings.production", "DJANGO_SECRET_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in result.stderr
