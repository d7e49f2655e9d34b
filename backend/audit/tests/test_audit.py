"""The audit trail: complete events, append-only at every layer, the API. The chain, the sealer and the
checkpoints: test_chain.py."""

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction

from audit.chain import seal
from audit.client import AuditClient
from audit.models import Action, AppendOnlyError, AuditEvent, AuditSeal, Outcome

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[AuditEvent]:
    return [
        AuditClient.log_event(Action.READ, resource_type="patient", resource_id=i, patient_id=f"p-{i}")
        for i in range(n)
    ]


def test_event_carries_actor_roles_request_and_client(token_client):
    client = token_client("ADMIN")
    client.get(
        "/api/audit/events?action=LOGIN",
        HTTP_X_REQUEST_ID="req-abc-123",
        HTTP_USER_AGENT="pytest-browser",
        HTTP_X_REAL_IP="10.1.2.3",
        REMOTE_ADDR="127.0.0.1",  # nginx, the trusted proxy whose X-Request-ID and X-Real-IP count
    )
    event = AuditEvent.objects.filter(action=Action.READ, resource_type="audit_event").get()
    assert event.actor_username == client.user.username and event.actor_roles == ["ADMIN"]
    assert event.actor_type == "user" and event.actor_id == client.user.pk
    assert (event.request_id, event.user_agent, event.source_ip) == ("req-abc-123", "pytest-browser", "10.1.2.3")
    assert event.detail == {"filters": {"action": "LOGIN"}}
    assert event.outcome == Outcome.SUCCESS


def test_orm_refuses_to_change_or_delete_events():
    event = _events(1)[0]
    event.resource_id = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(resource_id="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    seal()
    sealed = AuditSeal.objects.get(event=event)
    with pytest.raises(AppendOnlyError):
        sealed.save()
    with pytest.raises(AppendOnlyError):
        sealed.delete()
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.all().update(hash="0" * 64)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET resource_id = 'x'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditseal SET hash = 'x'",
        "DELETE FROM audit_auditseal",
    ],
)
def test_database_refuses_raw_updates_and_deletes(statement):
    """Even for the owner account the tests connect as (the application's account has no such right)."""
    _events(2)
    seal()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert (AuditEvent.objects.count(), AuditSeal.objects.count()) == (2, 2)


def test_admin_is_read_only(rf, make_user):
    request = rf.get("/admin/audit/auditevent/")
    request.user = make_user("ADMIN", is_superuser=True)
    model_admin = site._registry[AuditEvent]
    event = _events(1)[0]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


def test_audit_api_filters_and_pages(token_client):
    _events(7)
    AuditClient.log_event(
        Action.DELETE, resource_type="order", resource_id="o-1", patient_id="p-3", outcome=Outcome.FAILURE
    )
    admin = token_client("ADMIN")
    by_patient = admin.get("/api/audit/events", {"patient": "p-3"}).json()
    assert by_patient["count"] == 2
    assert {row["action"] for row in by_patient["results"]} == {"READ", "DELETE"}
    failures = admin.get("/api/audit/events", {"outcome": "FAILURE", "resource_type": "order"}).json()
    assert [row["resource_id"] for row in failures["results"]] == ["o-1"]
    page = admin.get("/api/audit/events", {"action": "READ", "resource_type": "patient", "page_size": 3}).json()
    assert page["count"] == 7 and len(page["results"]) == 3 and page["next"]
    bad = admin.get("/api/audit/events", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()["fields"]
    reversed_range = admin.get("/api/audit/events", {"since": "2026-02-01T00:00Z", "until": "2026-01-01T00:00Z"})
    assert reversed_range.status_code == 400


def test_csv_export_is_itself_audited(token_client):
    _events(3)
    admin = token_client("ADMIN")
    response = admin.get("/api/audit/events.csv", {"resource_type": "patient"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,occurred_at,actor_type") and len(lines) == 4
    export = AuditEvent.objects.get(action=Action.EXPORT)
    assert export.actor_username == admin.user.username
    assert export.detail == {"filters": {"resource_type": "patient"}}


def test_csv_cells_cannot_inject_formulas(token_client):
    AuditClient.log_event(Action.READ, resource_type="patient", resource_id='=HYPERLINK("http://x")')
    body = b"".join(token_client("ADMIN").get("/api/audit/events.csv").streaming_content).decode()
    assert "'=HYPERLINK" in body
