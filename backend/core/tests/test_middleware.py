"""The request context takes the client's address and the request id only from nginx: from any other peer
X-Real-IP and X-Request-ID are ignored; X-Forwarded-For is never read."""

import re

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from core.middleware import client_ip

pytestmark = pytest.mark.django_db
NGINX = "127.0.0.1"


@pytest.mark.parametrize(
    ("peer", "headers", "seen"),
    [
        (NGINX, {"HTTP_X_REAL_IP": "10.1.2.3"}, "10.1.2.3"),  # nginx says who the client is
        (NGINX, {}, NGINX),
        (NGINX, {"HTTP_X_REAL_IP": "10.1.2.3, 6.6.6.6"}, NGINX),  # not one address: ignored
        (NGINX, {"HTTP_X_REAL_IP": "<script>"}, NGINX),
        ("10.9.9.9", {"HTTP_X_REAL_IP": "6.6.6.6"}, "10.9.9.9"),  # anyone else: the peer itself
        ("10.9.9.9", {"HTTP_X_FORWARDED_FOR": "6.6.6.6"}, "10.9.9.9"),
        (NGINX, {"HTTP_X_FORWARDED_FOR": "6.6.6.6"}, NGINX),  # never read, even from nginx
    ],
)
def test_client_address(rf, peer, headers, seen):
    assert client_ip(rf.get("/", REMOTE_ADDR=peer, **headers)) == seen


def test_trusted_proxies_come_from_settings(rf):
    request = rf.get("/", REMOTE_ADDR="172.30.0.10", HTTP_X_REAL_IP="10.1.2.3")
    assert client_ip(request) == "172.30.0.10"
    with override_settings(TRUSTED_PROXY_ADDRESSES=["172.30.0.10"]):
        assert client_ip(request) == "10.1.2.3"
        assert client_ip(rf.get("/", REMOTE_ADDR=NGINX, HTTP_X_REAL_IP="10.1.2.3")) == NGINX


def test_request_id_only_from_nginx():
    client = APIClient()
    from_nginx = client.get("/health", HTTP_X_REQUEST_ID="abc123", REMOTE_ADDR=NGINX)
    assert from_nginx["X-Request-ID"] == "abc123"
    from_elsewhere = client.get("/health", HTTP_X_REQUEST_ID="abc123", REMOTE_ADDR="10.9.9.9")
    assert re.fullmatch(r"[0-9a-f]{32}", from_elsewhere["X-Request-ID"])
    malformed = client.get("/health", HTTP_X_REQUEST_ID="a b\nforged-log-line", REMOTE_ADDR=NGINX)
    assert re.fullmatch(r"[0-9a-f]{32}", malformed["X-Request-ID"])


def test_a_forged_address_from_outside_does_not_reach_the_audit_trail_nor_the_lockout(make_user):
    make_user("NURSE", username="nurse-ip")
    client = APIClient()
    client.post(
        "/api/auth/token",
        {"username": "nurse-ip", "password": "wrong-password-1"},
        format="json",
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_REAL_IP="6.6.6.6",
        HTTP_X_REQUEST_ID="forged-id",
    )
    event = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="nurse-ip").latest("id")
    assert event.source_ip == "10.9.9.9" and event.request_id != "forged-id"
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get(username="nurse-ip").ip_address == "10.9.9.9"
