"""core.http: the hardened layer under every external-system client, against real sockets."""

import time

import pytest
from django.conf import settings

from audit.models import Action, AuditEvent, Outcome
from core import context
from core.http import (
    CircuitBreaker,
    CircuitOpen,
    ExternalSession,
    ExternalSystemError,
    SystemTimeout,
    SystemUnavailable,
    Timeouts,
)
from core.tests.processes import ScriptedServer, free_port

pytestmark = pytest.mark.django_db
OK = (200, {"Content-Type": "application/json"}, b'{"ok": true}', 0.0)
UNAVAILABLE = (503, {}, b"busy", 0.0)


@pytest.fixture
def server():
    servers = []

    def make(*script):
        servers.append(ScriptedServer(*script))
        return servers[-1]

    yield make
    for instance in servers:
        instance.close()


def session(url: str, **kwargs) -> ExternalSession:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeouts", Timeouts(connect=1, read=1))
    return ExternalSession("testsys", url, **kwargs)


def test_call_to_real_orthanc_is_audited_once_with_the_request_id():
    token = context.activate(context.RequestContext(request_id="req-orthanc-1"))
    try:
        orthanc = ExternalSession(
            "orthanc", settings.ORTHANC_URL, auth=(settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD)
        )
        response = orthanc.request("GET", "/system", resource_type="pacs")
    finally:
        context.deactivate(token)
    assert response.status_code == 200 and "Version" in response.json()
    event = AuditEvent.objects.get(action=Action.EXTERNAL_CALL)
    assert (event.system, event.endpoint, event.status_code) == ("orthanc", "GET /system", 200)
    assert event.request_id == "req-orthanc-1" and event.outcome == Outcome.SUCCESS


def test_idempotent_call_is_retried_on_503_and_audited_once(server):
    upstream = server(UNAVAILABLE, UNAVAILABLE, OK)
    token = context.activate(context.RequestContext(request_id="req-retry"))
    try:
        response = session(upstream.url).request("GET", "/thing")
    finally:
        context.deactivate(token)
    assert response.status_code == 200 and len(upstream.received) == 3
    assert all(headers.get("X-Request-ID") == "req-retry" for _, _, headers in upstream.received)
    assert AuditEvent.objects.filter(action=Action.EXTERNAL_CALL).count() == 1


def test_post_is_never_retried(server):
    upstream = server(UNAVAILABLE, OK)
    response = session(upstream.url).request("POST", "/thing", json={"a": 1})
    assert response.status_code == 503 and len(upstream.received) == 1
    assert AuditEvent.objects.get(action=Action.EXTERNAL_CALL).outcome == Outcome.FAILURE


def test_429_honours_retry_after(server):
    upstream = server((429, {"Retry-After": "1"}, b"", 0.0), OK)
    started = time.monotonic()
    assert session(upstream.url).request("GET", "/x").status_code == 200
    assert time.monotonic() - started >= 0.9


def test_slow_system_is_a_timeout_error_within_the_configured_time(server):
    upstream = server((200, {}, b"{}", 3.0))
    with pytest.raises(SystemTimeout) as raised:
        session(upstream.url, retries=0).request("GET", "/slow")
    assert raised.value.api_status == 504
    assert AuditEvent.objects.get(action=Action.EXTERNAL_CALL).outcome == Outcome.FAILURE


def test_refused_connection_is_unavailable():
    with pytest.raises(SystemUnavailable) as raised:
        session(f"http://127.0.0.1:{free_port()}", retries=1).request("GET", "/x")
    assert raised.value.api_status == 503 and raised.value.system == "testsys"


def test_redirect_to_another_host_is_not_followed(server):
    upstream = server((302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"", 0.0))
    with pytest.raises(ExternalSystemError, match="another host"):
        session(upstream.url).request("GET", "/x")


def test_same_origin_redirect_is_followed(server):
    upstream = server((301, {"Location": "/moved"}, b"", 0.0), OK)
    assert session(upstream.url).request("GET", "/x").status_code == 200
    assert [path for _, path, _ in upstream.received] == ["/x", "/moved"]


def test_breaker_opens_after_repeated_failures_and_closes_after_a_successful_probe(server):
    upstream = server(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, OK)
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=0.5)
    client = session(upstream.url, retries=0, breaker=breaker)
    for _ in range(3):
        assert client.request("GET", "/x").status_code == 503
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        client.request("GET", "/x")
    assert len(upstream.received) == 3, "an open circuit must not reach the system"

    time.sleep(0.6)
    assert breaker.state == "half_open"
    assert client.request("GET", "/x").status_code == 200  # the probe
    assert breaker.state == "closed"
    assert AuditEvent.objects.filter(action=Action.EXTERNAL_CALL).count() == 5
