"""Alertmanager's webhook: bearer token only, validated payload, audited, pushed to OPS and ADMIN."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from audit.models import AuditEvent
from notifications.consumers import NotificationConsumer

TOKEN = "alertmanager-test-token"
DELIVERY = {
    "status": "firing",
    "alerts": [{"status": "firing", "labels": {"alertname": "DependencyDown", "severity": "critical"},
                "annotations": {"summary": "EMR unreachable"}, "startsAt": "2026-11-26T09:00:00Z"}],
}  # fmt: skip


@pytest.fixture
def webhook(settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


@pytest.mark.django_db
def test_wrong_or_missing_token_is_refused(settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    client = APIClient()
    assert client.post("/api/alerts/webhook", DELIVERY, format="json").status_code == 403
    client.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    assert client.post("/api/alerts/webhook", DELIVERY, format="json").status_code == 403


@pytest.mark.django_db
def test_an_empty_configured_token_refuses_everyone(settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = ""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert client.post("/api/alerts/webhook", DELIVERY, format="json").status_code == 403


@pytest.mark.django_db
def test_malformed_delivery_is_400(webhook):
    response = webhook.post("/api/alerts/webhook?route=ops", {"status": "firing", "alerts": [{}]}, format="json")
    assert response.status_code == 400 and "alerts" in response.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_delivery_is_audited_and_reaches_ops_over_the_websocket(webhook, make_user):
    ops = make_user("OPS")

    async def scenario():
        communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = ops
        assert (await communicator.connect())[0]
        response = await sync_to_async(webhook.post)("/api/alerts/webhook?route=oncall", DELIVERY, format="json")
        assert response.status_code == 202
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message["kind"] == "alert" and message["route"] == "oncall"
    assert message["alerts"][0] == {"name": "DependencyDown", "status": "firing", "severity": "critical",
                                    "summary": "EMR unreachable"}  # fmt: skip
    event = AuditEvent.objects.get(resource_type="alert")
    assert event.detail == {"route": "oncall", "alerts": ["DependencyDown"]}
    assert (event.actor_type, event.actor_username) == ("anonymous", "alertmanager")  # a token, not an account
