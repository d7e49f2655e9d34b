"""Alertmanager's webhook: bearer token only, validated payload, audited, pushed to OPS and ADMIN."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from notifications import services

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


@pytest.mark.django_db
def test_delivery_is_audited_and_addressed_to_ops_and_admin(webhook, make_user, monkeypatch):
    # Delivery over the Redis channel layer is notify_users' job (test_services.py); here: who and what.
    ops, admin, doctor = make_user("OPS"), make_user("ADMIN"), make_user("DOCTOR")
    sent = []
    monkeypatch.setattr(services, "notify_users", lambda user_ids, payload: sent.append((set(user_ids), payload)))

    response = webhook.post("/api/alerts/webhook?route=oncall", DELIVERY, format="json")

    assert response.status_code == 202
    ((recipients, message),) = sent
    assert ops.pk in recipients and admin.pk in recipients and doctor.pk not in recipients
    assert message["kind"] == "alert" and message["route"] == "oncall"
    assert message["alerts"][0] == {"name": "DependencyDown", "status": "firing", "severity": "critical",
                                    "summary": "EMR unreachable"}  # fmt: skip
    event = AuditEvent.objects.get(resource_type="alert")
    assert event.detail == {"route": "oncall", "alerts": ["DependencyDown"]}
    assert (event.actor_type, event.actor_username) == ("anonymous", "alertmanager")  # a token, not an account
