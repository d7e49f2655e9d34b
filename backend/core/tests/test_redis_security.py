"""Redis asks for a password and the CDSS keeps no pickle in it (docs/security.md, "Redis").

Whoever reaches Redis's port without the password gets nothing; whoever can write a key (a process that
holds the password, or a compromised one) cannot make a web worker run code by planting a pickle there:
values are JSON (core/cache.py), and a session that is not JSON is an empty session."""

import os
import pickle
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache

SESSION_PREFIX = "django.contrib.sessions.cache"


def test_redis_refuses_a_client_without_the_password():
    url = urlsplit(settings.REDIS_URL)
    assert url.password, "REDIS_URL signs in with a password (REDIS_PASSWORD)"
    anonymous = redis.Redis(host=url.hostname, port=url.port, socket_timeout=5)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get("cdss:1:anything")
    wrong = redis.Redis(host=url.hostname, port=url.port, username=url.username, password="wrong", socket_timeout=5)
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()


def test_cached_values_are_json_and_come_back_with_their_types():
    value = {"patient": "p-1", "n": 3, "ok": True, "items": [1.5, None]}
    cache.set("json-round-trip", value, timeout=30)
    raw = redis.Redis.from_url(settings.REDIS_URL).get(cache.make_key("json-round-trip"))
    assert raw.startswith(b"{") and b"\x80" not in raw  # JSON text, not pickle's protocol header
    assert cache.get("json-round-trip") == value
    cache.set("json-round-trip-counter", 1, timeout=30)
    assert cache.incr("json-round-trip-counter") == 2  # integers stay raw, so Redis can count


class Planted:
    """What an attacker would write into Redis: unpickling it creates a directory (it could run anything)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.mark.django_db
def test_a_pickle_planted_in_a_session_is_not_executed_and_signs_nobody_in(client, tmp_path):
    user = get_user_model().objects.create_user(username="planted", password="x" * 16)
    client.force_login(user)
    assert client.get("/api/auth/me").status_code == 200
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    raw = redis.Redis.from_url(settings.REDIS_URL)
    key = cache.make_key(SESSION_PREFIX + session_key)
    assert raw.get(key).startswith(b"{"), "sessions are stored as JSON"

    marker = tmp_path / "pickle-ran"
    raw.set(key, pickle.dumps(Planted(str(marker))), ex=60)
    answer = client.get("/api/auth/me")
    assert not marker.exists(), "the planted pickle was executed"
    assert answer.status_code in (401, 403)
