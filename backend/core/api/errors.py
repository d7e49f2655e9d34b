"""JSON error bodies for every failure the API can answer, so no client ever sees an HTML page or a
stack trace: {"status": 503, "error": "...", "detail": "...", ...}."""

from django.http import HttpRequest, JsonResponse

from core.http import ExternalSystemError


def error_body(status: int, error: str, detail: str, **extra) -> dict:
    return {"status": status, "error": error, "detail": detail, **extra}


def external_system_response(exc: ExternalSystemError) -> JsonResponse:
    extra = {"fields": exc.fields} if getattr(exc, "fields", None) else {}  # e.g. the EMR's validationErrors
    return JsonResponse(
        error_body(exc.api_status, "external_system", f"{exc.title}: {exc.detail}", system=exc.system, **extra),
        status=exc.api_status,
    )


# Django-level handlers (cdss.urls): for errors raised outside DRF views, e.g. a body over the size limit.
def bad_request(request: HttpRequest, exception=None) -> JsonResponse:
    return JsonResponse(error_body(400, "bad_request", "The request could not be read."), status=400)


def not_found(request: HttpRequest, exception=None) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", "No such resource."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(
            500, "server_error", "Unexpected error; it has been logged.", request_id=getattr(request, "request_id", "")
        ),
        status=500,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return JsonResponse(error_body(403, "csrf_failed", f"CSRF check failed: {reason}"), status=403)
