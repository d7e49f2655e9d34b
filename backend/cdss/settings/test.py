"""Tests: production settings pointed at separate test namespaces on the same real servers.

Tests share the machine's MariaDB, Redis, RabbitMQ, Orthanc and S3 server with a running system, so
each gets its own namespace: the test database (pytest-django), the `cdss_test` RabbitMQ vhost, Redis
databases 2 and 3, and `test-` buckets. Nothing here replaces a real server with a fake.
"""

import hashlib

from .base import BASE_DIR, database, env, required, with_path
from .production import *  # noqa: F403
from .production import ALLOWED_HOSTS, CACHES, CHANNEL_LAYERS, RABBITMQ_URL, REDIS_URL, S3_BUCKETS

RABBITMQ_URL = env.str("RABBITMQ_TEST_URL", default=with_path(RABBITMQ_URL, "cdss_test"))
CELERY_BROKER_URL = RABBITMQ_URL
REDIS_URL = with_path(REDIS_URL, "2")
CACHES["default"]["LOCATION"] = REDIS_URL
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = REDIS_URL
CELERY_RESULT_BACKEND = with_path(REDIS_URL, "3")
S3_BUCKETS = {purpose: f"test-{name}" for purpose, name in S3_BUCKETS.items()}
# The tests run as the application's object-store account (whatever S3_ACCESS_KEY this shell holds); the
# session fixture creates the test buckets as the admin (conftest.py, core.storage.ensure_buckets).
S3_ACCESS_KEY = required("APP_S3_ACCESS_KEY")
S3_SECRET_KEY = required("APP_S3_SECRET_KEY")
# Tests that need an ai-server start their own (the running stack's may be absent): none unless named.
AI_SERVER_URL = env.str("AI_SERVER_TEST_URL", default="").rstrip("/")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # Django's test client
# Each /ready in a test runs the checks (the cache has tests of its own: core/tests/test_ready_cache.py).
READINESS_CACHE_SECONDS = env.float("READINESS_CACHE_SECONDS", default=0.0)

# Tests create, migrate and empty their database: the owner account (core/tests/test_least_privilege.py
# connects as the application account by itself).
DATABASES = {"default": database(env.str("DATABASE_OWNER_URL", default="") or required("DATABASE_URL"))}

# One test database per checkout (and per CDSS_TEST_DB_SUFFIX), so two checkouts or two sessions on
# one machine never drop each other's tables mid-run.
_checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:6]
DATABASES["default"]["TEST"]["NAME"] = "_".join(
    filter(None, ["test", DATABASES["default"]["NAME"], _checkout, env.str("CDSS_TEST_DB_SUFFIX", default="")])
)
