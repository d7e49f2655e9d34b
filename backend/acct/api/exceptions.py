"""The REST API's exception handler: JSON bodies for every error, 401 vs 403 kept apart, external
system failures as 502/503/504, and every authentication or permission failure audited."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from audit.client import AuditClient
from audit.models import Action, Outcome
from core.api.errors import error_body, external_system_response
from core.http import ExternalSystemError


def exception_handler(exc, context):
    if isinstance(exc, ExternalSystemError):
        return external_system_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers with JSON and the error is logged
    request = context["request"]
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(response.status_code, "validation_failed", "Invalid input.", fields=response.data)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = error_body(response.status_code, str(getattr(detail, "code", code)), str(detail))
    if response.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        _audit_denial(request, exc, response)
    return response


def _audit_denial(request, exc, response: Response) -> None:
    view = request.parser_context.get("view") if getattr(request, "parser_context", None) else None
    AuditClient.log_event(
        Action.LOGIN_FAILED if isinstance(exc, exceptions.AuthenticationFailed) else Action.PERMISSION_DENIED,
        resource_type=type(view).__name__ if view else "",
        outcome=Outcome.DENIED,
        status_code=response.status_code,
        endpoint=f"{request.method} {request.path}",
        detail={"reason": response.data["detail"]},
    )
