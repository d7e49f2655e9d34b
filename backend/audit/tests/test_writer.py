"""The request path's audit writer: events written on the writer thread's own connection while the view
works, committed before the answer, never an answer when they could not be; inside a transaction, the
event still commits or rolls back with it. (Killed right after answering: test_chain.)"""

import threading
from unittest import mock

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from audit import client as audit_client
from audit.client import AuditClient
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_in_autocommit_hands_its_event_to_the_writer_and_answers_after_the_commit(token_client):
    admin = token_client("ADMIN")
    written = []
    real_append = audit_client._append

    def on_writer_thread(events):
        real_append(events)
        written.extend((event.resource_type, threading.current_thread().name) for event in events)

    with mock.patch.object(audit_client, "_append", side_effect=on_writer_thread):
        response = admin.get("/api/audit/events", {"resource_type": "nothing"})
    assert response.status_code == 200
    assert written == [("audit_event", "audit-writer")]  # committed before the client got its answer
    assert AuditEvent.objects.filter(resource_type="audit_event").count() == 1


def test_an_event_the_writer_cannot_commit_turns_the_answer_into_a_503_naming_the_database(make_user):
    from acct.services import token_issue

    user = make_user("ADMIN")
    _, token = token_issue(actor=user, user=user)
    admin = APIClient(raise_request_exception=False)
    admin.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    down = OperationalError(2013, "Lost connection to server during query")
    with mock.patch.object(audit_client, "_append", side_effect=down) as append:
        response = admin.get("/api/audit/events", {"resource_type": "nothing"})
    assert append.call_count == 2  # once more on a fresh connection, then given up
    assert response.status_code == 503
    assert response.json()["dependency"] == "database"
    assert "results" not in response.json()  # the view's answer never left


def test_inside_a_transaction_the_event_rolls_back_with_it():
    with AuditClient.committed_at_exit():
        with pytest.raises(RuntimeError), transaction.atomic():
            AuditClient.log_event(Action.UPDATE, resource_type="patient", resource_id="rolled-back")
            raise RuntimeError("the change fails")
        AuditClient.log_event(Action.READ, resource_type="patient", resource_id="kept")
    assert list(AuditEvent.objects.values_list("resource_id", flat=True)) == ["kept"]


def test_one_event_the_database_refuses_does_not_fail_the_others_written_with_it():
    writer = audit_client._writer()
    events = [
        AuditEvent(
            occurred_at=timezone.now(),
            action=Action.READ,
            outcome="SUCCESS",
            actor_type="system",
            resource_type="patient",
            resource_id=resource_id,
        )
        for resource_id in ("first", "x" * 500, "third")  # resource_id holds 128: strict mode refuses 500
    ]
    handed = [writer.submit(event, None) for event in events]
    outcomes = []
    for written in handed:
        try:
            written.wait()
            outcomes.append("committed")
        except Exception:
            outcomes.append("refused")
    assert outcomes == ["committed", "refused", "committed"]
    assert sorted(AuditEvent.objects.values_list("resource_id", flat=True)) == ["first", "third"]
