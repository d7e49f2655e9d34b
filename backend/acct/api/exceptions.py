"""The REST API's exception handler: JSON bodies for every error, 401 vs 403 kept apart, external
system failures as 502/503/504, and every authentication or permission failure audited. The one place
where the domain's errors (core.errors) become HTTP answers."""

from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from audit.client import AuditClient
from audit.models import Action, Outcome
from core import errors
from core.api.errors import error_body, external_system_response
from core.http import ExternalSystemError

# Most specific first (InvalidTransition is a Conflict).
DOMAIN_STATUS = (
    (errors.NotFound, status.HTTP_404_NOT_FOUND),
    (errors.Conflict, status.HTTP_409_CONFLICT),
    (errors.TooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
)


def _as_api_exception(exc: errors.DomainError) -> exceptions.APIException:
    """The DRF exception that answers a domain error, so it takes the same path (body, rollback, audit)."""
    if isinstance(exc, errors.InvalidInput):
        return exceptions.ValidationError({exc.field: [exc.message]})
    if isinstance(exc, errors.NotPermitted):
        return exceptions.PermissionDenied(exc.message)
    answer = exceptions.APIException(exc.message, code=exc.code)
    answer.status_code = next((code for kind, code in DOMAIN_STATUS if isinstance(exc, kind)), 400)
    return answer


def exception_handler(exc, context):
    if isinstance(exc, ExternalSystemError):
        return external_system_response(exc)
    if isinstance(exc, errors.DomainError):
        exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers with JSON and the error is logged
    request = context["request"]
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(response.status_code, "validation_failed", _("Invalid input."), fields=response.data)
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
