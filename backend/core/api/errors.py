"""JSON error bodies for every failure the API can answer, so no client ever sees an HTML page or a
stack trace: {"status": 503, "error": "...", "detail": "...", ...}."""

import sys

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

from core.http import ExternalSystemError
from core.outage import dependency_of


def error_body(status: int, error: str, detail: str, **extra) -> dict:
    return {"status": status, "error": error, "detail": detail, **extra}


def external_system_response(exc: ExternalSystemError) -> JsonResponse:
    extra = {"fields": exc.fields} if getattr(exc, "fields", None) else {}  # e.g. the EMR's validationErrors
    return JsonResponse(
        error_body(
            exc.api_status,
            "external_system",
            f"{exc.title}: {exc.detail}",  # the title is translated (core.http); the detail is the system's own
            system=exc.system,
            dependency=exc.system,
            **extra,
        ),
        status=exc.api_status,
    )


# Django-level handlers (cdss.urls): for errors raised outside DRF views, e.g. a body over the size limit.
def bad_request(request: HttpRequest, exception=None) -> JsonResponse:
    return JsonResponse(error_body(400, "bad_request", _("The request could not be read.")), status=400)


def not_found(request: HttpRequest, exception=None) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", _("No such resource.")), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this inside its `except` block, so the exception is at hand: a platform server that
    # is down (core.outage) is a 503 naming it, not an unexpected error.
    if dependency := dependency_of(sys.exc_info()[1]):
        return dependency_unavailable(dependency)
    return JsonResponse(
        error_body(
            500,
            "server_error",
            _("Unexpected error; it has been logged."),
            request_id=getattr(request, "request_id", ""),
        ),
        status=500,
    )


def dependency_unavailable(dependency: str) -> JsonResponse:
    response = JsonResponse(
        error_body(
            503,
            "dependency_unavailable",
            _("The %(dependency)s is unavailable; retry shortly.") % {"dependency": dependency},
            dependency=dependency,
        ),
        status=503,
    )
    response["Retry-After"] = "5"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return JsonResponse(
        error_body(403, "csrf_failed", _("CSRF check failed: %(reason)s") % {"reason": reason}), status=403
    )
