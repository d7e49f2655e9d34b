"""OpenEMR's OAuth2 server (CONTRACTS.md B.2-B.4, B.7): client registration, the token endpoint (password,
refresh with rotation, client_credentials with a signed assertion), introspection, the bearer check in
front of the APIs, and the administrator's switches (test-only, /__control__/clients/<id>)."""

from __future__ import annotations

import hmac
import json
import secrets
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from ..common.messages import HttpError, Request, Response, json_response
from ..common.smart import SMART_SCOPE, oauth_error, smart_scope_allows
from ..common.state import Clock, Settings
from ..common.store import Store
from .jose import b64url, b64url_decode, jwt_shaped, rs384_valid
from .records import Records
from .shapes import OAUTH, api_error

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Standard API resources (scope names are the lower-case route names) and the FHIR types served here.
API_RESOURCES = ("patient", "encounter", "vital", "medical_problem", "medication", "prescription", "allergy")
FHIR_RESOURCES = ("Patient",)
ALL_SCOPES = " ".join(
    [
        "openid offline_access api:oemr api:fhir api:port fhirUser launch launch/patient",
        *(f"user/{name}.read user/{name}.write" for name in API_RESOURCES),
        *(f"{ctx}/{name}.read" for name in FHIR_RESOURCES for ctx in ("user", "patient", "system")),
    ]
)

# league/oauth2-server wording for the errors the token endpoint gives
OAUTH_ERRORS = {
    "invalid_client": (401, "Client authentication failed"),
    "invalid_request": (
        400,
        "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
        "more than once, or is otherwise malformed.",
    ),
    "invalid_grant": (
        400,
        "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is "
        "invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was "
        "issued to another client.",
    ),
    "invalid_scope": (400, "The requested scope is invalid, unknown, or malformed"),
    "unsupported_grant_type": (400, "The authorization grant type is not supported by the authorization server."),
    "unauthorized_client": (400, "The authenticated client is not authorized to use this authorization grant type."),
}


def league_error(error: str, hint: str = "") -> HttpError:
    """A token endpoint error worded as league/oauth2-server words it (`message` kept for BC)."""
    status, description = OAUTH_ERRORS[error]
    return HttpError(oauth_error(status, error, description, message=description, **({"hint": hint} if hint else {})))


class OAuthServer:
    def __init__(self, store: Store, clock: Clock, settings: Settings, records: Records):
        self.store, self.clock, self.settings, self.records = store, clock, settings, records

    def register_configured(self, client_id: str, secret: str) -> None:
        """The client given on the command line, enabled and allowed the password grant, as an administrator
        would have set it up."""
        with self.store.transaction():
            registration = {"client_name": "configured on the command line", "application_type": "private"}
            self.store.execute(
                "INSERT OR REPLACE INTO client VALUES (?, ?, 1, ?, ?, NULL, NULL, ?)",
                (
                    client_id,
                    secret,
                    json.dumps(["authorization_code", "password", "refresh_token"]),
                    ALL_SCOPES,
                    json.dumps(registration),
                ),
            )

    def check_access(self, request: Request, meta: dict[str, Any]) -> None:
        """401 without a live bearer token; 403 for a role or scope that does not reach the route (B.7)."""
        api = meta.get("api")
        if api is None:
            return
        scheme, _, token = request.header("Authorization").partition(" ")
        found = self.store.row("SELECT * FROM access_token WHERE token = ?", (token.strip(),))
        if scheme.lower() != "bearer" or found is None or found["expires"] <= self.clock.now():
            raise api_error(401, "Authorization failed for the request.")
        scopes = found["scope"].split()
        if api == "oemr":
            if found["role"] != "users":
                raise api_error(403, "not allowing patient or system role to access oemr api")
            contexts: tuple[str, ...] = ("user",)
        else:
            contexts = {"users": ("user",), "patient": ("patient",), "system": ("system",)}[found["role"]]
        family = f"api:{api}"
        if family not in scopes:
            raise api_error(403, f"scope {family} not in access token")
        resource, action = meta["resource"], meta["action"]
        if not smart_scope_allows(scopes, resource, action, contexts):
            wanted = "read" if action in "rs" else "write"
            raise api_error(403, f"scope {contexts[0]}/{resource}.{wanted} not in access token")

    def register(self, request: Request) -> Response:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return json_response(400, {"error": "invalid_client_metadata", "error_description": "Invalid JSON"})
        if not body.get("redirect_uris"):
            description = "redirect_uris is invalid"
            return json_response(400, {"error": "invalid_redirect_uri", "error_description": description})
        scopes = (body.get("scope") or ALL_SCOPES).split()
        confidential = body.get("application_type") == "private"
        privileged = any(s.startswith(("user/", "system/")) for s in scopes)
        if not confidential and privileged:
            description = "public clients may not request user/ or system/ scopes"
            return json_response(400, {"error": "invalid_client_metadata", "error_description": description})
        # ScopeRepository::hasScopesThatRequireManualApproval: an administrator must enable these clients.
        enabled = not (
            self.settings["manual_approval"]
            or (confidential and privileged)
            or (not confidential and "launch" in scopes)
        )
        grant_types = self._registered_grant_types(body, confidential, scopes)
        client_id, now = b64url(secrets.token_bytes(32)), int(self.clock.now())
        secret = b64url(secrets.token_bytes(64)) if confidential else None
        answer = {
            "client_id": client_id,
            **({"client_secret": secret} if secret else {}),
            "registration_access_token": b64url(secrets.token_bytes(32)),
            "registration_client_uri": f"{request.origin}{OAUTH}/client/{b64url(secrets.token_bytes(16))}",
            "client_id_issued_at": now,
            "client_secret_expires_at": 0,
        }
        for name in ("contacts", "application_type", "client_name", "redirect_uris", "post_logout_redirect_uris"):
            if name in body:
                answer[name] = body[name]
        answer |= {k: body[k] for k in ("token_endpoint_auth_method", "jwks_uri", "jwks") if k in body}
        answer["scope"] = " ".join(scopes)
        self.store.execute(
            "INSERT INTO client VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                client_id,
                secret,
                int(enabled),
                json.dumps(grant_types),
                " ".join(scopes),
                json.dumps(body["jwks"]) if body.get("jwks") else None,
                body.get("jwks_uri"),
                json.dumps(body),
            ),
        )
        return json_response(200, answer)

    def _registered_grant_types(self, body: dict, confidential: bool, scopes: list[str]) -> list[str]:
        """Newest master: omitted means authorization_code; `password` is silently dropped (only an
        administrator grants it); client_credentials comes with system/ scopes and a JWKS."""
        requested = [g for g in body.get("grant_types") or ["authorization_code"] if g != "password"]
        has_keys = bool(body.get("jwks") or body.get("jwks_uri"))
        if confidential and has_keys and any(s.startswith("system/") for s in scopes):
            requested.append("client_credentials")
        return sorted(set(requested) | {"refresh_token"})

    def token(self, request: Request) -> Response:
        form = request.form()
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(request, form)
        client = self._authenticated_client(form)
        if grant not in {"password", "refresh_token"}:
            raise league_error("unsupported_grant_type")
        if self.settings["enforce_grant_types"] and grant not in json.loads(client["grant_types"]):
            raise league_error("unauthorized_client", f"Grant type {grant} is not registered for this client.")
        if grant == "refresh_token":
            return self._refresh(form, client)
        return self._password(form, client)

    def _password(self, form: dict[str, str], client: Any) -> Response:
        allowed = {0: set(), 1: {"users"}, 2: {"patient"}, 3: {"users", "patient"}}[self.settings["password_grant"]]
        if not allowed:
            raise league_error("unsupported_grant_type")
        role = form.get("user_role")
        if not role:
            raise league_error("invalid_request", "Check the `user_role` parameter")
        if role not in allowed:
            raise league_error("unsupported_grant_type", f"The password grant is not enabled for role {role}")
        for name in ("username", "password", *(("email",) if role == "patient" else ())):
            if not form.get(name):
                raise league_error("invalid_request", f"Check the `{name}` parameter")
        subject = self._check_credentials(role, form)
        scopes = self._granted_scopes(form.get("scope", ""), client)
        return self._issue(client["client_id"], role, subject, scopes, self.settings["token_ttl_s"], refresh=True)

    def _check_credentials(self, role: str, form: dict[str, str]) -> str:
        """The token's subject: the user name, or the patient's uuid for a patient login."""
        if role == "users":
            good = form["username"] == self.settings["username"] and form["password"] == self.settings["password"]
            subject = form["username"]
        else:
            patient = next((p for p in self.records.of_kind("patient") if p["email"] == form["email"]), None)
            good = patient is not None and form["password"] == self.settings["patient_password"]
            subject = patient["uuid"] if patient else ""
        if not good:
            raise league_error("invalid_grant", "The user credentials were incorrect.")
        return subject

    def _refresh(self, form: dict[str, str], client: Any) -> Response:
        """Refresh-token rotation: the used token is revoked and a new one issued with the access token."""
        found = self.store.row("SELECT * FROM refresh_token WHERE token = ?", (form.get("refresh_token", ""),))
        if found is None or found["revoked"]:
            raise league_error("invalid_grant", "Token has been revoked")
        if found["expires"] <= self.clock.now():
            raise league_error("invalid_grant", "Token has expired")
        if found["client_id"] != client["client_id"]:
            raise league_error("invalid_grant", "Token is not linked to client")
        self.store.execute("UPDATE refresh_token SET revoked = 1 WHERE token = ?", (found["token"],))
        scopes = found["scope"].split()
        ttl = self.settings["token_ttl_s"]
        return self._issue(client["client_id"], found["role"], found["subject"], scopes, ttl, refresh=True)

    def _client_credentials(self, request: Request, form: dict[str, str]) -> Response:
        """SMART backend services: an RS384 JWT assertion signed with a key of the client's JWKS."""
        if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
            raise league_error("invalid_request", "Check the `client_assertion` parameter")
        try:
            encoded_header, encoded_claims, encoded_signature = form["client_assertion"].split(".")
            header = json.loads(b64url_decode(encoded_header))
            claims = json.loads(b64url_decode(encoded_claims))
            signature = b64url_decode(encoded_signature)
        except ValueError:
            raise league_error("invalid_client", "The client assertion is not a JWT") from None
        client = self.store.row("SELECT * FROM client WHERE client_id = ?", (str(claims.get("iss", "")),))
        if client is None or not client["enabled"] or claims.get("sub") != claims.get("iss"):
            raise league_error("invalid_client")
        if "client_credentials" not in json.loads(client["grant_types"]):
            raise league_error(
                "unauthorized_client", "Grant type client_credentials is not registered for this client."
            )
        signed = f"{encoded_header}.{encoded_claims}".encode("ascii")
        keys = [k for k in self._client_keys(client) if header.get("kid") in {None, k.get("kid")}]
        if header.get("alg") != "RS384" or not any(rs384_valid(signed, signature, key) for key in keys):
            raise league_error("invalid_client", "The client assertion signature is invalid")
        self._check_assertion_claims(request, claims)
        scopes = self._granted_scopes(form.get("scope", ""), client)
        if any(not s.startswith("system/") for s in scopes if SMART_SCOPE.fullmatch(s)):
            raise league_error("invalid_scope", "Only system/ scopes can be granted to a client_credentials token")
        ttl = self.settings["client_credentials_ttl_s"]
        return self._issue(client["client_id"], "system", client["client_id"], scopes, ttl, refresh=False)

    def _check_assertion_claims(self, request: Request, claims: dict) -> None:
        now = self.clock.now()
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if not any(isinstance(a, str) and urlsplit(a).path == f"{OAUTH}/token" for a in audiences):
            raise league_error("invalid_client", "The assertion audience must be the token endpoint")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or not now < expires <= now + 300 + 5:
            raise league_error("invalid_client", "The assertion must expire within 5 minutes")
        jti = claims.get("jti")
        if not jti or self.store.row("SELECT 1 FROM used_assertion WHERE jti = ?", (str(jti),)):
            raise league_error("invalid_client", "The assertion jti is missing or was used before")
        self.store.execute("DELETE FROM used_assertion WHERE expires < ?", (now,))
        self.store.execute("INSERT INTO used_assertion VALUES (?, ?)", (str(jti), float(expires)))

    def _client_keys(self, client: Any) -> list[dict]:
        """The client's public keys: inline JWKS, else fetched from its jwks_uri (which must not be served
        by this emulator: requests are serialised, so it would wait for itself)."""
        if client["jwks"]:
            return json.loads(client["jwks"]).get("keys", [])
        if client["jwks_uri"]:
            try:
                with urllib.request.urlopen(client["jwks_uri"], timeout=5) as answer:  # noqa: S310 - admin-set URL
                    return json.loads(answer.read()).get("keys", [])
            except (OSError, ValueError):
                return []
        return []

    def _authenticated_client(self, form: dict[str, str]) -> Any:
        client = self.store.row("SELECT * FROM client WHERE client_id = ?", (form.get("client_id", ""),))
        if client is None or not client["enabled"]:
            raise league_error("invalid_client")
        if client["secret"] and not hmac.compare_digest(
            form.get("client_secret", "").encode(), client["secret"].encode()
        ):
            raise league_error("invalid_client")
        return client

    def _granted_scopes(self, requested: str, client: Any) -> list[str]:
        registered = set(client["scope"].split())
        scopes = requested.split()
        for scope in scopes:
            if scope not in registered:
                raise league_error("invalid_scope", f"Check the `{scope}` scope")
        return scopes

    def _issue(self, client_id: str, role: str, subject: str, scopes: list[str], ttl: int, refresh: bool) -> Response:
        now = self.clock.now()
        claims = {"aud": client_id, "jti": secrets.token_hex(20), "iat": int(now), "exp": int(now + ttl)}
        access = jwt_shaped({**claims, "sub": subject, "scopes": scopes})
        self.store.execute("DELETE FROM access_token WHERE expires <= ?", (now,))
        self.store.execute(
            "INSERT INTO access_token VALUES (?, ?, ?, ?, ?, ?)",
            (access, client_id, role, subject, " ".join(scopes), now + ttl),
        )
        answer: dict[str, Any] = {"token_type": "Bearer", "expires_in": ttl, "access_token": access}
        if "openid" in scopes:
            answer = {"id_token": jwt_shaped({**claims, "sub": subject}), **answer}
        if refresh and "offline_access" in scopes:
            token = "def50200" + secrets.token_hex(96)
            expires = now + self.settings["refresh_ttl_s"]
            self.store.execute(
                "INSERT INTO refresh_token VALUES (?, ?, ?, ?, ?, ?, 0)",
                (token, client_id, role, subject, " ".join(scopes), expires),
            )
            answer["refresh_token"] = token
        answer["scope"] = " ".join(scopes)
        return json_response(200, answer, headers={"Cache-Control": "no-store"})

    def introspect(self, request: Request) -> Response:
        form = request.form()
        self._authenticated_client(form)
        token = form.get("token", "")
        found = self.store.row("SELECT * FROM access_token WHERE token = ?", (token,))
        if found is None or found["expires"] <= self.clock.now():
            return json_response(200, {"active": False})
        answer = {
            "active": True,
            "scope": found["scope"],
            "client_id": found["client_id"],
            "exp": int(found["expires"]),
        }
        return json_response(200, {**answer, "sub": found["subject"], "token_type": "Bearer"})

    def admin_client(self, request: Request, client_id: str) -> Response:
        with self.store.transaction():
            client = self.store.row("SELECT * FROM client WHERE client_id = ?", (client_id,))
        if client is None:
            return json_response(404, {"error": f"no client {client_id}"})
        return json_response(
            200,
            {
                "client_id": client_id,
                "is_enabled": bool(client["enabled"]),
                "grant_types": json.loads(client["grant_types"]),
                "scope": client["scope"],
            },
        )

    def admin_client_update(self, request: Request, client_id: str) -> Response:
        """What Administration → System → API Clients does: enable a client, give it grant types."""
        try:
            change = request.json()
        except ValueError:
            change = None
        enabled = change.get("is_enabled") if isinstance(change, dict) else None
        grants = change.get("grant_types") if isinstance(change, dict) else None
        if not isinstance(change, dict) or not isinstance(enabled, bool | None) or not isinstance(grants, list | None):
            return json_response(400, {"error": 'expected {"is_enabled": bool, "grant_types": [...]}'})
        with self.store.transaction():
            if enabled is not None:
                self.store.execute("UPDATE client SET enabled = ? WHERE client_id = ?", (int(enabled), client_id))
            if grants is not None:
                self.store.execute(
                    "UPDATE client SET grant_types = ? WHERE client_id = ?", (json.dumps(grants), client_id)
                )
        return self.admin_client(request, client_id)
