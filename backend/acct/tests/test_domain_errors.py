"""The domain's errors (core.errors) become HTTP answers in one place, the API's exception handler: one
status per kind, the body the web UI reads ({status, error, detail, fields}), a refusal audited."""

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from acct.api.exceptions import exception_handler
from audit.models import Action, AuditEvent, Outcome
from core import errors
from core.http import SystemUnavailable

pytestmark = pytest.mark.django_db


def answer(exc: Exception):
    view = APIView()
    request = view.initialize_request(APIRequestFactory().post("/api/x/1/move"))
    return exception_handler(exc, {"request": request, "view": view})


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (errors.NotFound("No order 7."), 404, "not_found"),
        (errors.Conflict("It changed meanwhile."), 409, "conflict"),
        (errors.TooLarge("Over the limit."), 413, "payload_too_large"),
    ],
)
def test_each_kind_answers_its_status_with_the_message(exc, status, error):
    response = answer(exc)
    assert response.status_code == status
    assert response.data == {"status": status, "error": error, "detail": exc.message}


def test_an_invalid_status_change_is_a_409_wherever_it_happens():
    transitions = {"OPEN": {"DONE"}}
    with pytest.raises(errors.InvalidTransition) as raised:
        errors.check_transition("letter 3", "DONE", "OPEN", transitions)
    errors.check_transition("letter 3", "OPEN", "DONE", transitions)  # an allowed move passes
    response = answer(raised.value)
    assert response.status_code == 409 and response.data["error"] == "conflict"
    assert response.data["detail"] == "letter 3 is DONE and cannot become OPEN (allowed: none)"


def test_invalid_input_names_its_field_as_a_form_shows_it():
    response = answer(errors.InvalidInput("A review needs a comment.", field="comment"))
    assert response.status_code == 400
    assert response.data == {
        "status": 400,
        "error": "validation_failed",
        "detail": "Invalid input.",
        "fields": {"comment": ["A review needs a comment."]},
    }


def test_a_refusal_is_a_403_and_audited():
    response = answer(errors.NotPermitted("Your role may not move an order to SCHEDULED."))
    assert response.status_code == 403 and response.data["error"] == "permission_denied"
    event = AuditEvent.objects.get(action=Action.PERMISSION_DENIED)
    assert event.outcome == Outcome.DENIED and event.detail["reason"].startswith("Your role may not")


def test_a_dependency_down_keeps_its_503_naming_it():
    response = answer(SystemUnavailable("object-storage", "connection refused"))
    assert response.status_code == 503
    assert b'"dependency": "object-storage"' in response.content
