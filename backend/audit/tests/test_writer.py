"""The request path's audit write: an event logged outside a transaction is sent on its thread's second
connection as it is logged, committed before the answer, and never an answer when it could not be; inside
a transaction, the event still commits or rolls back with it. (Killed right after answering: test_chain.)"""

from unittest import mock

import pytest
from django.db import DataError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit import client as audit_client
from audit.client import AuditClient
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_in_autocommit_sends_its_event_ahead_and_answers_after_the_commit(token_client):
    admin = token_client("ADMIN")
    real_answer = audit_client._Pipeline._answer
    with (
        CaptureQueriesContext(connection) as own_queries,
        mock.patch.object(audit_client._Pipeline, "_answer", autospec=True, side_effect=real_answer) as answer,
    ):
        response = admin.get("/api/audit/events", {"resource_type": "nothing"})
    assert response.status_code == 200
    assert answer.call_count == 1  # its answer read before the client got its own
    assert AuditEvent.objects.filter(resource_type="audit_event").count() == 1  # committed
    assert not [query for query in own_queries if "INSERT" in query["sql"]]  # not on the view's connection


def test_an_event_that_cannot_be_committed_turns_the_answer_into_a_503_naming_the_database(make_user):
    from acct.services import token_issue

    user = make_user("ADMIN")
    _, token = token_issue(actor=user, user=user)
    admin = APIClient(raise_request_exception=False)
    admin.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    down = OperationalError(2013, "Lost connection to server during query")
    with mock.patch.object(audit_client._Pipeline, "_answer", side_effect=down) as answer:
        response = admin.get("/api/audit/events", {"resource_type": "nothing"})
    assert answer.call_count == 2  # once more on a fresh connection, then given up
    assert response.status_code == 503
    assert response.json()["dependency"] == "database"
    assert "results" not in response.json()  # the view's answer never left


def test_a_pipeline_connection_the_database_closed_is_replaced_and_nothing_is_lost():
    with AuditClient.committed_at_exit():
        AuditClient.log_event(Action.READ, resource_type="patient", resource_id="before")
    pipeline_id = audit_client._pipeline().db.connection.thread_id()
    with connection.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {int(pipeline_id)}")  # as a restart of MariaDB or its wait_timeout would
    with AuditClient.committed_at_exit():
        AuditClient.log_event(Action.READ, resource_type="patient", resource_id="after")
    assert sorted(AuditEvent.objects.values_list("resource_id", flat=True)) == ["after", "before"]
    assert audit_client._pipeline().db.connection.thread_id() != pipeline_id


def test_inside_a_transaction_the_event_rolls_back_with_it():
    with AuditClient.committed_at_exit():
        with pytest.raises(RuntimeError), transaction.atomic():
            AuditClient.log_event(Action.UPDATE, resource_type="patient", resource_id="rolled-back")
            raise RuntimeError("the change fails")
        AuditClient.log_event(Action.READ, resource_type="patient", resource_id="kept")
    assert list(AuditEvent.objects.values_list("resource_id", flat=True)) == ["kept"]


def test_one_event_the_database_refuses_does_not_fail_the_others_of_the_request():
    with pytest.raises(DataError), AuditClient.committed_at_exit():
        for resource_id in ("first", "x" * 500, "third"):  # resource_id holds 128: strict mode refuses 500
            AuditClient.log_event(Action.READ, resource_type="patient", resource_id=resource_id)
    assert sorted(AuditEvent.objects.values_list("resource_id", flat=True)) == ["first", "third"]


@pytest.mark.parametrize("in_a_request", [True, False], ids=["pipeline", "inline"])
def test_roles_no_permission_check_loaded_are_read_by_the_insert_itself(make_user, in_a_request):
    from acct.models import User

    doctor_and_rib, nobody = make_user("RIB", "DOCTOR"), make_user()
    with AuditClient.committed_at_exit() if in_a_request else transaction.atomic():
        events = [
            AuditClient.log_event(Action.READ, resource_type="patient", actor=User.objects.get(pk=user.pk))
            for user in (doctor_and_rib, nobody)
        ]
    assert [event.actor_roles for event in events] == [["DOCTOR", "RIB"], []]
    stored = AuditEvent.objects.filter(pk__in=[event.pk for event in events]).order_by("pk")
    assert [event.actor_roles for event in stored] == [["DOCTOR", "RIB"], []]
