"""Alertmanager's webhook: bearer token only, validated payload, audited, pushed to OPS and ADMIN."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from audit.models import AuditEvent
from notifications.consumers import user_group

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
def test_delivery_is_audited_and_reaches_ops_through_the_channel_layer(webhook, make_user):
    ops, doctor = make_user("OPS"), make_user("DOCTOR")
    layer = get_channel_layer()
    inboxes = {}
    for user in (ops, doctor):  # what NotificationConsumer does for each signed-in tab
        inboxes[user.pk] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(user.pk), inboxes[user.pk])

    response = webhook.post("/api/alerts/webhook?route=oncall", DELIVERY, format="json")
    assert response.status_code == 202

    async def first_message(channel: str) -> dict:
        return await asyncio.wait_for(layer.receive(channel), timeout=10)

    message = async_to_sync(first_message)(inboxes[ops.pk])["payload"]
    assert message["kind"] == "alert" and message["route"] == "oncall"
    assert message["alerts"][0] == {"name": "DependencyDown", "status": "firing", "severity": "critical",
                                    "summary": "EMR unreachable"}  # fmt: skip
    with pytest.raises(TimeoutError):  # a doctor is not on watch
        async_to_sync(asyncio.wait_for)(layer.receive(inboxes[doctor.pk]), timeout=0.5)
    event = AuditEvent.objects.get(resource_type="alert")
    assert event.detail == {"route": "oncall", "alerts": ["DependencyDown"]}
    assert (event.actor_type, event.actor_username) == ("anonymous", "alertmanager")  # a token, not an account
