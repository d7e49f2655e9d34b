"""OpenEMR's URL layout and the shapes of its answers (RestControllerHelper, the Symfony error listener),
and the request helpers every part of the stand-in uses."""

from __future__ import annotations

from typing import Any

from ..common.messages import HttpError, Request, Response, json_response

OAUTH = "/oauth2/default"
API = "/apis/default/api"
FHIR = "/apis/default/fhir"


def envelope(status: int, data: Any, links: Any = None, validation: Any = None) -> Response:
    """The Standard API's wrapper around every answer, success or error (RestControllerHelper)."""
    body = {"validationErrors": validation or [], "internalErrors": [], "data": data, "links": links or []}
    return json_response(status, body)


def api_error(status: int, message: str) -> HttpError:
    """Auth, scope and routing errors (Symfony ExceptionHandlerListener shape, master)."""
    return HttpError(json_response(status, {"error": "An error occurred", "message": message, "code": 0}))


def validation_error(field: str, rule: str, message: str) -> HttpError:
    return HttpError(envelope(400, [], validation={field: {rule: message}}))


def json_body(request: Request) -> dict:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise validation_error("body", "Json::INVALID", "the request body must be a JSON object")
    return body


def stringified(body: dict) -> dict:
    """OpenEMR stores and returns strings; JSON null stays null (empty dates)."""
    return {k: (None if v is None else str(v)) for k, v in body.items()}


def paging_number(request: Request, name: str, fallback: str | None = None) -> int:
    """A non-negative integer query value; anything else counts as 0, as OpenEMR casts with (int)."""
    value = request.param(name, fallback) or "0"
    return int(value) if value.isdigit() else 0
