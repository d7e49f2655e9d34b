"""SMART on FHIR scopes (both servers check them) and the OAuth2 error shape of their token endpoints."""

from __future__ import annotations

import re

from .messages import Response, json_response

SMART_SCOPE = re.compile(
    r"(?P<context>system|user|patient)/(?P<type>\*|[A-Za-z_]+)\.(?P<perm>\*|read|write|(?=[cruds])c?r?u?d?s?)"
)
_PERMISSION_LETTERS = {"*": "cruds", "read": "rs", "write": "cud"}  # SMART v1 names as v2 letters


def smart_scope_allows(
    scopes: list[str], resource: str, permission: str, contexts: tuple[str, ...] = ("system", "user", "patient")
) -> bool:
    """Does any of `scopes` (v1 `.read`/`.write`/`.*` or v2 `.cruds`) grant `permission`, one of the letters
    c r u d s, on `resource` in one of `contexts`?"""
    for scope in scopes:
        match = SMART_SCOPE.fullmatch(scope)
        if not match or match["context"] not in contexts or match["type"] not in {"*", resource}:
            continue
        if permission in _PERMISSION_LETTERS.get(match["perm"], match["perm"]):
            return True
    return False


def smart_security(oauth_uris: dict[str, str]) -> dict:
    """CapabilityStatement.rest.security announcing SMART on FHIR and its OAuth2 endpoints."""
    service = {"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}
    uris = [{"url": name, "valueUri": uri} for name, uri in oauth_uris.items()]
    return {
        "service": [{"coding": [service]}],
        "extension": [
            {"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": uris}
        ],
    }


def oauth_error(status: int, error: str, description: str, **extra: str) -> Response:
    """A token endpoint error (RFC 6749 section 5.2); failed client authentication is a 401 with a challenge."""
    headers = {"WWW-Authenticate": 'Basic realm="OAuth"'} if status == 401 else {}
    return json_response(status, {"error": error, "error_description": description, **extra}, headers=headers)
