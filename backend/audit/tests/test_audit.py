"""The audit trail: complete events, append-only at every layer, a hash chain that finds tampering."""

import io
from importlib import import_module

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.chain import verify_chain
from audit.client import AuditClient
from audit.models import Action, AppendOnlyError, AuditEvent, Outcome

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
        REMOTE_ADDR="10.1.2.3",
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


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET resource_id = 'x'", "DELETE FROM audit_auditevent"])
def test_database_refuses_raw_updates_and_deletes(statement):
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 2


def test_admin_is_read_only(rf, make_user):
    request = rf.get("/admin/audit/auditevent/")
    request.user = make_user("ADMIN", is_superuser=True)
    model_admin = site._registry[AuditEvent]
    event = _events(1)[0]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


# DROP/CREATE TRIGGER commit implicitly in MariaDB, so these tests cannot live inside a rolled-back
# transaction: they run transactional, and conftest truncates the audit tables after them.
tampering = pytest.mark.django_db(transaction=True)


class _TriggersDropped:
    """What an attacker with the database's root account could do: drop the triggers, edit, restore."""

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER audit_auditevent_no_update")
            cursor.execute("DROP TRIGGER audit_auditevent_no_delete")

    def __exit__(self, *exc):
        trigger = import_module("audit.migrations.0002_append_only_triggers").trigger
        with connection.cursor() as cursor:
            cursor.execute(trigger("UPDATE"))
            cursor.execute(trigger("DELETE"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_a_fresh_chain_all_succeed_and_the_chain_holds():
    """Threads (as in a concurrent DICOM upload) writing the very first events at once: no deadlock on the
    chain head's creation, no lost or forked event."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def write(index: int) -> None:
        try:
            for step in range(5):
                AuditClient.log_event(Action.READ, resource_type="thread", resource_id=f"{index}-{step}")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    report = verify_chain()
    assert report.intact and report.checked == 30


@pytest.mark.django_db(transaction=True)
def test_batched_events_from_threads_are_written_in_groups_and_chained():
    """AuditClient.batched(): threads started with a copy of the context add to the same batch; a full
    group is written at once, the rest when the block ends; the chain holds across groups."""
    import contextvars
    import threading

    from django.db import connections

    def write(index: int) -> None:
        try:
            for step in range(3):
                AuditClient.log_event(
                    Action.EXTERNAL_CALL, system="orthanc", endpoint=f"POST /instances {index}-{step}"
                )
        finally:
            connections.close_all()

    with AuditClient.batched(size=4):
        AuditClient.log_event(Action.EXTERNAL_CALL, system="orthanc", endpoint="POST /instances first")
        assert AuditEvent.objects.count() == 0  # kept until the group is full
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(write, i)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert AuditEvent.objects.count() == 8  # two full groups of 4; 2 events still waiting
    assert AuditEvent.objects.count() == 10
    AuditClient.log_event(Action.READ, resource_type="patient", resource_id=1)  # unbatched again
    report = verify_chain()
    assert report.intact and report.checked == 11


def test_chain_verifies_when_untouched():
    _events(5)
    report = verify_chain()
    assert report.intact and report.checked == 5
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "intact: 5 events" in out.getvalue()


@tampering
def test_chain_catches_an_edited_row():
    events = _events(5)
    with _TriggersDropped(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [events[2].pk])
    report = verify_chain()
    assert report.broken_at == events[2].pk and "edited" in report.reason
    with pytest.raises(CommandError, match=f"broken at event {events[2].pk}"):
        call_command("verify_audit_chain")


@tampering
def test_chain_catches_a_removed_row():
    events = _events(5)
    with _TriggersDropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = verify_chain()
    assert report.broken_at == events[2].pk and "removed" in report.reason


@tampering
def test_chain_catches_rows_removed_from_the_end():
    events = _events(4)
    with _TriggersDropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [events[2].pk])
    report = verify_chain()
    assert not report.intact and report.broken_at == events[3].pk and "newest" in report.reason


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
