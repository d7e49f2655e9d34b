"""The OAuth2 gateway a secured HAPI sits behind (A.15): the client-credentials token endpoint and the bearer
check in front of every other route. Off unless the server runs with --auth, as stock HAPI has no auth."""

from __future__ import annotations

import hmac
import secrets
from base64 import b64decode

from ..common.messages import Request, Response, json_response
from ..common.smart import SMART_SCOPE, oauth_error, smart_scope_allows
from .outcomes import MESSAGES, FhirError, fail
from .part import Part


class Gateway(Part):
    def require(self, request: Request, resource_type: str | None, permission: str | None) -> None:
        """The bearer check of A.15: 401 without a live token, 403 when its scopes do not cover the access."""
        if not self.settings["auth"]:
            return
        scheme, _, token = request.header("Authorization").partition(" ")
        found = self.store.row("SELECT scope, expires FROM access_token WHERE token = ?", (token.strip(),))
        if scheme.lower() != "bearer" or found is None or found["expires"] <= self.clock.now():
            challenge = 'Bearer realm="fhir"' + (', error="invalid_token"' if token else "")
            raise FhirError(401, MESSAGES["unauthenticated"], headers={"WWW-Authenticate": challenge})
        if resource_type and permission and not smart_scope_allows(found["scope"].split(), resource_type, permission):
            raise fail(403, "denied")

    def token(self, request: Request) -> Response:
        form = request.form()
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, credentials = request.header("Authorization").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = b64decode(credentials).decode("utf-8").partition(":")
            except ValueError:
                client_id = secret = ""
        expected_id, expected_secret = self.settings["client_id"], self.settings["client_secret"]
        authenticated = (
            bool(expected_id)
            and hmac.compare_digest(client_id.encode(), expected_id.encode())
            and hmac.compare_digest(secret.encode(), expected_secret.encode())
        )
        if not authenticated:
            return oauth_error(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
        scope = form.get("scope") or "system/*.*"
        if not all(SMART_SCOPE.fullmatch(item) for item in scope.split()):
            return oauth_error(400, "invalid_scope", f"Unknown scope in {scope!r}")
        token, ttl, now = secrets.token_urlsafe(32), self.settings["token_ttl_s"], self.clock.now()
        self.store.execute("DELETE FROM access_token WHERE expires <= ?", (now,))
        self.store.execute("INSERT INTO access_token VALUES (?, ?, ?, ?)", (token, client_id, scope, now + ttl))
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
        return json_response(200, answer, headers={"Cache-Control": "no-store"})
