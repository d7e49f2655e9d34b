"""Stand-in for OpenEMR's OAuth2 server, Standard REST API and a sliver of its FHIR API (CONTRACTS.md B).

    backend/.venv/bin/python -m standins.openemr --port 8300 --data var/openemr.sqlite3 --password-grant 3 \\
        --client-id cds-local --client-secret <secret>

Faithful where clients get hurt: the `{validationErrors, internalErrors, data, links}` envelope with
string values, 400 (not 422) for validation, registration answering 200, the password grant off unless
enabled, rotating refresh tokens, `links` that name `_count` although /api/patient reads `_limit`, and
FHIR search Bundles of type `collection`. Seeded with synthetic patients (openemr_seed.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from .common import (
    SMART_SCOPE,
    Emulator,
    HttpError,
    Request,
    Response,
    Route,
    Store,
    base_parser,
    json_response,
    oauth_error,
    serve,
    smart_scope_allows,
    smart_security,
    words,
)
from .openemr_seed import records_by_kind, synthetic_records

OAUTH = "/oauth2/default"
API = "/apis/default/api"
FHIR = "/apis/default/fhir"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SHA384_DIGEST_INFO = bytes.fromhex("3041300d060960864801650304020205000430")  # DER prefix of a SHA-384 digest
MAX_LIMIT = 200  # QueryPagination::MAX_LIMIT

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
PATIENT_SEARCH_FIELDS = words(  # PatientRestController::SUPPORTED_SEARCH_FIELDS
    "fname lname ss street postal_code city state phone_home phone_biz phone_cell postal_contact sex country_code "
    "email DOB"
)
PATIENT_WRITE_FIELDS = words(
    "title fname mname lname street postal_code city state country_code phone_contact phone_home phone_cell email "
    "DOB sex race ethnicity"
)
TABLES = {  # record kind -> OpenEMR table; ids are per table (problems, medications and allergies share `lists`)
    "patient": "patient_data",
    "encounter": "form_encounter",
    "vital": "form_vitals",
    "medical_problem": "lists",
    "medication": "lists",
    "allergy": "lists",
    "prescription": "prescriptions",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (  -- one row per OpenEMR row; `data` is what the API returns
    tbl TEXT NOT NULL, kind TEXT NOT NULL, id INTEGER NOT NULL, uuid TEXT NOT NULL UNIQUE, data TEXT NOT NULL,
    PRIMARY KEY (tbl, id));
CREATE TABLE IF NOT EXISTS client (
    client_id TEXT PRIMARY KEY, secret TEXT, enabled INTEGER NOT NULL, grant_types TEXT NOT NULL,
    scope TEXT NOT NULL, jwks TEXT, jwks_uri TEXT, registration TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, role TEXT NOT NULL, subject TEXT NOT NULL,
    scope TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, role TEXT NOT NULL, subject TEXT NOT NULL,
    scope TEXT NOT NULL, expires REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS used_assertion (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
"""

SETTING_CHECKS = {
    "password_grant": lambda v: v in {0, 1, 2, 3},
    "token_ttl_s": lambda v: v > 0,
    "client_credentials_ttl_s": lambda v: v > 0,
    "refresh_ttl_s": lambda v: v > 0,
}
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


# --- answers in OpenEMR's shapes ----------------------------------------------------------------------------


def envelope(status: int, data: Any, links: Any = None, validation: Any = None) -> Response:
    """The Standard API's wrapper around every answer, success or error (RestControllerHelper)."""
    body = {"validationErrors": validation or [], "internalErrors": [], "data": data, "links": links or []}
    return json_response(status, body)


def api_error(status: int, message: str) -> HttpError:
    """Auth, scope and routing errors (Symfony ExceptionHandlerListener shape, master)."""
    return HttpError(json_response(status, {"error": "An error occurred", "message": message, "code": 0}))


def league_error(error: str, hint: str = "") -> HttpError:
    """A token endpoint error worded as league/oauth2-server words it (`message` kept for BC)."""
    status, description = OAUTH_ERRORS[error]
    return HttpError(oauth_error(status, error, description, message=description, **({"hint": hint} if hint else {})))


def validation_error(field: str, rule: str, message: str) -> HttpError:
    return HttpError(envelope(400, [], validation={field: {rule: message}}))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_shaped(claims: dict) -> str:
    """A token that looks like OpenEMR's signed JWTs. Clients must treat tokens as opaque; nothing checks
    the signature, the server looks tokens up in its store."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    parts = [b64url(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, b64url(secrets.token_bytes(64))])


def rs384_valid(signing_input: bytes, signature: bytes, jwk: dict) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-384 (JWS RS384) using only the standard library."""
    try:
        modulus = int.from_bytes(b64url_decode(jwk["n"]), "big")
        exponent = int.from_bytes(b64url_decode(jwk["e"]), "big")
    except (KeyError, ValueError, TypeError):
        return False
    size = (modulus.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    decoded = pow(int.from_bytes(signature, "big"), exponent, modulus).to_bytes(size, "big")
    digest = SHA384_DIGEST_INFO + hashlib.sha384(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    return hmac.compare_digest(decoded, expected)


class OpenEmrEmulator(Emulator):
    name = "openemr"

    def __init__(self, store: Store, settings: dict[str, Any], seed: int, patients: int, client: tuple[str, str]):
        super().__init__(store, settings, SETTING_CHECKS)
        self.seed_value, self.patient_count, self.configured_client = seed, patients, client
        oauth, api, fhir, uid = OAUTH, API, FHIR, r"[^/]+"
        add = self.router.add
        add("POST", f"{oauth}/registration", self.register)
        add("POST", f"{oauth}/token", self.token)
        add("POST", f"{oauth}/introspect", self.introspect)

        def standard(method: str, path: str, handler: Callable[..., Response], resource: str, action: str) -> None:
            add(method, f"{api}{path}", handler, api="oemr", resource=resource, action=action)

        standard("GET", "/patient", self.patient_list, "patient", "s")
        standard("POST", "/patient", self.patient_create, "patient", "c")
        standard("GET", f"/patient/(?P<puuid>{uid})", self.patient_get, "patient", "r")
        standard("PUT", f"/patient/(?P<puuid>{uid})", self.patient_update, "patient", "u")
        standard("GET", f"/patient/(?P<puuid>{uid})/encounter", partial(self.list_of, "encounter"), "encounter", "s")
        standard("POST", f"/patient/(?P<puuid>{uid})/encounter", self.encounter_create, "encounter", "c")
        standard(
            "GET",
            f"/patient/(?P<puuid>{uid})/encounter/(?P<ruuid>{uid})",
            partial(self.one_of, "encounter"),
            "encounter",
            "r",
        )
        vitals = r"/patient/(?P<pid>\d+)/encounter/(?P<eid>\d+)/vital"
        standard("GET", vitals, partial(self.list_of, "vital"), "vital", "s")
        standard("POST", vitals, partial(self.child_create, "vital"), "vital", "c")
        standard("GET", rf"{vitals}/(?P<rid>\d+)", partial(self.one_of, "vital"), "vital", "r")
        standard("PUT", rf"{vitals}/(?P<rid>\d+)", partial(self.child_update, "vital"), "vital", "u")
        for kind in ("medical_problem", "allergy"):
            collection = f"/patient/(?P<puuid>{uid})/{kind}"
            standard("GET", collection, partial(self.list_of, kind), kind, "s")
            standard("POST", collection, partial(self.child_create, kind), kind, "c")
            standard("GET", f"{collection}/(?P<ruuid>{uid})", partial(self.one_of, kind), kind, "r")
            standard("PUT", f"{collection}/(?P<ruuid>{uid})", partial(self.child_update, kind), kind, "u")
            standard("GET", f"/{kind}", partial(self.list_of, kind), kind, "s")
        medications = r"/patient/(?P<pid>\d+)/medication"
        standard("GET", medications, partial(self.list_of, "medication"), "medication", "s")
        standard("POST", medications, partial(self.child_create, "medication"), "medication", "c")
        standard("GET", rf"{medications}/(?P<rid>\d+)", partial(self.one_of, "medication"), "medication", "r")
        standard("GET", "/prescription", partial(self.list_of, "prescription"), "prescription", "s")
        standard("GET", f"/prescription/(?P<ruuid>{uid})", partial(self.one_of, "prescription"), "prescription", "r")
        add("GET", f"{fhir}/metadata", self.fhir_metadata)
        add("GET", f"{fhir}/Patient", self.fhir_patient_search, api="fhir", resource="Patient", action="s")
        add(
            "GET",
            f"{fhir}/Patient/(?P<puuid>{uid})",
            self.fhir_patient_read,
            api="fhir",
            resource="Patient",
            action="r",
        )
        self.control.add("GET", f"/__control__/clients/(?P<client_id>{uid})", self.admin_client)
        self.control.add("POST", f"/__control__/clients/(?P<client_id>{uid})", self.admin_client_update)

    # --- lifecycle and hooks ---------------------------------------------------------------------------
    def seed(self) -> None:
        for kind, row in records_by_kind(synthetic_records(self.seed_value, self.patient_count)):
            self._insert(kind, row)

    def open(self) -> None:
        """Seed on first use, then (re)register the client given on the command line, enabled and allowed
        the password grant, as an administrator would have set it up."""
        super().open()
        client_id, secret = self.configured_client
        if client_id and secret:
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

    def error(self, status: int, message: str) -> Response:
        return json_response(status, {"error": "An error occurred", "message": message, "code": 0})

    def authorize(self, request: Request, route: Route, params: dict[str, str]) -> None:
        """401 without a live bearer token; 403 for a role or scope that does not reach the route (B.7)."""
        api = route.meta.get("api")
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
        resource, action = route.meta["resource"], route.meta["action"]
        if not smart_scope_allows(scopes, resource, action, contexts):
            wanted = "read" if action in "rs" else "write"
            raise api_error(403, f"scope {contexts[0]}/{resource}.{wanted} not in access token")

    # --- OAuth2: registration (B.2) -----------------------------------------------------------------------
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

    # --- OAuth2: token endpoint (B.3) ---------------------------------------------------------------------
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
            patient = next((p for p in self._records("patient") if p["email"] == form["email"]), None)
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

    # --- the administrator's switches (test-only, /__control__/clients/<id>) ---------------------------------
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

    # --- Standard API: patients (B.5, B.6) ---------------------------------------------------------------------
    def patient_list(self, request: Request) -> Response:
        """Search on the whitelisted fields, `_sort`, and `_limit`/`_offset` paging (0 = all, at most 200).
        The links name `_count`, which this endpoint ignores: following `next` returns every remaining row."""
        rows = self._records("patient")
        for name in PATIENT_SEARCH_FIELDS:
            wanted = request.param(name)
            if wanted:
                rows = [r for r in rows if self._field_matches(name, r.get(name) or "", wanted)]
        for key in reversed([k for k in (request.param("_sort") or "").split(",") if k]):
            field = key.lstrip("-")
            rows.sort(key=lambda r, field=field: r.get(field) or "", reverse=key.startswith("-"))
        limit = self._paging_number(request, "_limit", request.param("_maxresults"))
        limit = min(limit, MAX_LIMIT)
        offset = self._paging_number(request, "_offset")
        page = rows[offset : offset + limit] if limit else rows[offset:]
        kept = [
            (k, v) for k, values in request.query.items() for v in values if k not in {"_limit", "_offset", "_count"}
        ]
        uri = f"{request.origin}{request.path}?{urlencode(kept)}"
        links = {"first": f"{uri}&_offset=0&_count={limit}"}
        if offset > 0:
            links["previous"] = f"{uri}&_offset={max(0, offset - limit)}&_count={limit}"
        if limit and offset + limit < len(rows):
            links["next"] = f"{uri}&_offset={offset + limit}&_count={limit}"
        return envelope(200, page, links)

    def patient_get(self, request: Request, puuid: str) -> Response:
        patient = self._record_by_uuid("patient", puuid)
        if patient is None:
            return envelope(404, [])
        return envelope(200, patient)

    def patient_create(self, request: Request) -> Response:
        body = self._patient_body(request, required=("fname", "lname", "DOB", "sex"))
        pid = self._next_id("patient")
        patient_uuid = str(uuid.uuid4())
        blank = dict.fromkeys(
            words(
                "title mname ss street postal_code city state county country_code drivers_license "
                "contact_relationship phone_contact phone_home phone_biz phone_cell email race ethnicity status"
            ),
            "",
        )
        record = {"id": str(pid + 100), "pid": str(pid), "uuid": patient_uuid, "pubpid": str(pid), **blank, **body}
        self._insert("patient", record)
        return envelope(201, {"pid": pid, "uuid": patient_uuid})

    def patient_update(self, request: Request, puuid: str) -> Response:
        patient = self._record_by_uuid("patient", puuid)
        if patient is None:
            raise validation_error("uuid", "invalid or nonexisting value", f" value {puuid}")
        patient |= self._patient_body(request, required=())
        self._save("patient", patient)
        return envelope(200, patient)

    def _patient_body(self, request: Request, required: tuple[str, ...]) -> dict[str, str]:
        body = self._json_body(request)
        for name in required:
            if name not in body:
                raise validation_error(
                    name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                )
            if not str(body[name]).strip():
                raise validation_error(name, "NotEmpty::EMPTY", f"{name} must not be empty")
        if "DOB" in body and not self._is_date(str(body["DOB"])):
            raise validation_error("DOB", "Datetime::INVALID_VALUE", "DOB must be a valid date")
        return {k: str(v) for k, v in body.items() if k in PATIENT_WRITE_FIELDS}

    # --- Standard API: what hangs off a patient -----------------------------------------------------------------
    def list_of(self, kind: str, request: Request, **ids: str) -> Response:
        """Unpaged lists: a patient's encounters/problems/allergies (by uuid) or vitals/medications (by pid),
        or the global lists, filtered by any field given in the query."""
        scope = self._scope(ids)
        rows = self._records(kind, **scope)
        filters = {k: v for k, v in ((k, request.param(k)) for k in request.query) if not k.startswith("_")}
        rows = [r for r in rows if all(str(r.get(k)) == v for k, v in filters.items() if k in r)]
        return envelope(200, rows)

    def one_of(
        self, kind: str, request: Request, ruuid: str | None = None, rid: str | None = None, **ids: str
    ) -> Response:
        scope = self._scope(ids)
        record = self._record_by_uuid(kind, ruuid) if ruuid else self._record_by_id(kind, rid or "")
        if record is None or any(str(record.get(k)) != str(v) for k, v in scope.items()):
            return envelope(404, [])
        return envelope(200, record)

    def encounter_create(self, request: Request, puuid: str) -> Response:
        patient = self._patient_for(puuid)
        body = self._json_body(request)
        for name in ("pc_catid", "class_code"):
            if not str(body.get(name, "")).strip():
                raise validation_error(
                    name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                )
        number = self._next_id("encounter")
        record = {
            "id": str(number),
            "uuid": str(uuid.uuid4()),
            "date": f"{datetime.fromtimestamp(self.clock.now(), UTC):%Y-%m-%d %H:%M:%S}",
            **{k: str(v) if v is not None else "" for k, v in body.items()},
            "pid": patient["pid"],
            "encounter": str(number),
        }
        self._insert("encounter", record)
        return envelope(201, {"encounter": number, "uuid": record["uuid"]})

    def child_create(self, kind: str, request: Request, **ids: str) -> Response:
        scope = self._scope(ids)
        body = self._json_body(request)
        if kind != "vital":
            for name in ("title", "begdate"):
                if not str(body.get(name) or "").strip():
                    raise validation_error(
                        name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                    )
        new_id = self._next_id(kind)
        record = {"id": str(new_id), "uuid": str(uuid.uuid4()), **self._stringified(body), **scope}
        if kind == "vital":
            record["date"] = record.get("date") or f"{datetime.fromtimestamp(self.clock.now(), UTC):%Y-%m-%d %H:%M:%S}"
        else:
            record["type"] = kind
            if "puuid" not in record:
                record["puuid"] = self._patient_by_pid(record["pid"])["uuid"]
        self._insert(kind, record)
        if kind == "vital":
            return envelope(201, {"vid": new_id, "fid": new_id, "uuid": record["uuid"]})
        return envelope(201, {"id": new_id, "uuid": record["uuid"]})

    def child_update(
        self, kind: str, request: Request, ruuid: str | None = None, rid: str | None = None, **ids: str
    ) -> Response:
        scope = self._scope(ids)
        record = self._record_by_uuid(kind, ruuid) if ruuid else self._record_by_id(kind, rid or "")
        if record is None or any(str(record.get(k)) != str(v) for k, v in scope.items()):
            return envelope(404, [])
        protected = {"id", "uuid", "pid", "puuid", "eid", "type"}
        record |= {k: v for k, v in self._stringified(self._json_body(request)).items() if k not in protected}
        self._save(kind, record)
        return envelope(200, record)

    def _scope(self, ids: dict[str, str]) -> dict[str, str]:
        """Fields a record must carry to belong to the route's patient (and encounter). An unknown patient
        uuid is a 400 validation error; an unknown pid simply matches nothing, as in OpenEMR."""
        scope = {name: ids[name] for name in ("pid", "eid") if name in ids}
        if "puuid" in ids:
            scope["pid"] = self._patient_for(ids["puuid"])["pid"]
        return scope

    # --- FHIR API (B.8): metadata and Patient ----------------------------------------------------------------
    def fhir_metadata(self, request: Request) -> Response:
        oauth = f"{request.origin}{OAUTH}"
        security = smart_security({name: f"{oauth}/{name}" for name in ("authorize", "token", "introspect")})
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "software": {"name": "OpenEMR"},
            "fhirVersion": "4.0.1",
            "format": ["application/json"],
            "rest": [
                {
                    "mode": "server",
                    "security": security,
                    "resource": [{"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}]}],
                }
            ],
        }
        return json_response(200, statement, "application/fhir+json")

    def fhir_patient_search(self, request: Request) -> Response:
        """A Bundle of type `collection`, not `searchset` (openemr#6885); `_count`/`_offset` paging."""
        rows = [self._fhir_patient(p) for p in self._records("patient")]
        for name, test in {
            "_id": lambda p, v: p["id"] == v,
            "family": lambda p, v: p["name"][0]["family"].lower().startswith(v.lower()),
            "given": lambda p, v: any(g.lower().startswith(v.lower()) for g in p["name"][0]["given"]),
            "birthdate": lambda p, v: p.get("birthDate") == v,
            "gender": lambda p, v: p.get("gender") == v,
        }.items():
            wanted = request.param(name)
            if wanted:
                rows = [p for p in rows if test(p, wanted)]
        count = self._paging_number(request, "_count")
        offset = self._paging_number(request, "_offset")
        page = rows[offset : offset + count] if count else rows[offset:]
        base = f"{request.origin}{FHIR}/Patient"
        links = [{"relation": "self", "url": request.url}]
        if count and offset + count < len(rows):
            links.append({"relation": "next", "url": f"{base}?_count={count}&_offset={offset + count}"})
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="seconds")},
            "type": "collection",
            "total": len(rows),
            "link": links,
            "entry": [{"fullUrl": f"{base}/{p['id']}", "resource": p} for p in page],
        }
        return json_response(200, bundle, "application/fhir+json")

    def fhir_patient_read(self, request: Request, puuid: str) -> Response:
        patient = self._record_by_uuid("patient", puuid)
        if patient is None:
            return json_response(404, [], "application/fhir+json")  # an empty array, not an OperationOutcome
        return json_response(200, self._fhir_patient(patient), "application/fhir+json")

    @staticmethod
    def _fhir_patient(row: dict) -> dict:
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": row["uuid"],
            "meta": {"versionId": "1"},
            "identifier": [
                {
                    "use": "official",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PT"}]},
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                    "value": row["pubpid"],
                }
            ],
            "name": [
                {"use": "official", "family": row["lname"], "given": [g for g in (row["fname"], row["mname"]) if g]}
            ],
            "gender": {"Male": "male", "Female": "female"}.get(row["sex"], "unknown"),
            "birthDate": row["DOB"],
        }
        if row.get("street"):
            resource["address"] = [
                {
                    "line": [row["street"]],
                    "city": row["city"],
                    "state": row["state"],
                    "postalCode": row["postal_code"],
                    "country": row["country_code"],
                }
            ]
        if row.get("phone_home"):
            resource["telecom"] = [{"system": "phone", "value": row["phone_home"], "use": "home"}]
        return resource

    # --- storage helpers ------------------------------------------------------------------------------------------
    def _insert(self, kind: str, row: dict) -> None:
        data = json.dumps(row, ensure_ascii=False)
        self.store.execute(
            "INSERT INTO record VALUES (?, ?, ?, ?, ?)", (TABLES[kind], kind, int(row["id"]), row["uuid"], data)
        )

    def _save(self, kind: str, row: dict) -> None:
        self.store.execute(
            "UPDATE record SET data = ? WHERE tbl = ? AND id = ?",
            (json.dumps(row, ensure_ascii=False), TABLES[kind], int(row["id"])),
        )

    def _records(self, kind: str, **scope: str) -> list[dict]:
        rows = [
            json.loads(r["data"])
            for r in self.store.rows("SELECT data FROM record WHERE kind = ? ORDER BY id", (kind,))
        ]
        return [r for r in rows if all(str(r.get(k)) == str(v) for k, v in scope.items())]

    def _record_by_uuid(self, kind: str, record_uuid: str) -> dict | None:
        found = self.store.row("SELECT data FROM record WHERE kind = ? AND uuid = ?", (kind, record_uuid))
        return json.loads(found["data"]) if found else None

    def _record_by_id(self, kind: str, record_id: str) -> dict | None:
        if not record_id.isdigit():
            return None
        found = self.store.row("SELECT data FROM record WHERE kind = ? AND id = ?", (kind, int(record_id)))
        return json.loads(found["data"]) if found else None

    def _next_id(self, kind: str) -> int:
        found = self.store.row("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM record WHERE tbl = ?", (TABLES[kind],))
        return int(found["next"]) if found else 1

    def _patient_for(self, puuid: str) -> dict:
        patient = self._record_by_uuid("patient", puuid)
        if patient is None:
            raise validation_error("uuid", "invalid or nonexisting value", f" value {puuid}")
        return patient

    def _patient_by_pid(self, pid: str) -> dict:
        patient = next((p for p in self._records("patient") if p["pid"] == str(pid)), None)
        if patient is None:
            raise validation_error("pid", "invalid or nonexisting value", f" value {pid}")
        return patient

    # --- request helpers -----------------------------------------------------------------------------------------
    @staticmethod
    def _json_body(request: Request) -> dict:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise validation_error("body", "Json::INVALID", "the request body must be a JSON object")
        return body

    @staticmethod
    def _stringified(body: dict) -> dict:
        """OpenEMR stores and returns strings; JSON null stays null (empty dates)."""
        return {k: (None if v is None else str(v)) for k, v in body.items()}

    @staticmethod
    def _field_matches(name: str, value: str, wanted: str) -> bool:
        """DOB matches exactly; text fields by case-insensitive prefix."""
        return value == wanted if name == "DOB" else value.lower().startswith(wanted.lower())

    @staticmethod
    def _is_date(text: str) -> bool:
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return False
        return True

    @staticmethod
    def _paging_number(request: Request, name: str, fallback: str | None = None) -> int:
        """A non-negative integer query value; anything else counts as 0, as OpenEMR casts with (int)."""
        value = request.param(name, fallback) or "0"
        return int(value) if value.isdigit() else 0


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("OpenEMR Standard REST API stand-in (see standins/README.md).", default_port=8300)
    option, env = parser.add_argument, os.environ.get
    option("--seed", type=int, default=20260115, help="seed of the synthetic records (default 20260115)")
    option("--patients", type=int, default=64, help="number of synthetic patients (default 64)")
    option(
        "--password-grant",
        type=int,
        default=0,
        choices=[0, 1, 2, 3],
        help="global oauth_password_grant: 0 off (OpenEMR's default), 1 users, 2 patients, 3 both",
    )
    option(
        "--enforce-grant-types", action="store_true", help="newest master: a client may use only its registered grants"
    )
    option("--manual-approval", action="store_true", help="oauth_app_manual_approval: every new client starts disabled")
    option("--client-id", default=env("OPENEMR_EMULATOR_CLIENT_ID", ""), help="pre-registered enabled client")
    option("--client-secret", default=env("OPENEMR_EMULATOR_CLIENT_SECRET", ""), help="its secret")
    option("--username", default=env("OPENEMR_EMULATOR_USERNAME", "admin"), help="API user (default admin)")
    option("--password", default=env("OPENEMR_EMULATOR_PASSWORD", "pass"), help="its password (default pass)")
    option("--patient-password", default="pass", help="portal password of every seeded patient (default pass)")
    option("--token-ttl", type=int, default=3600, help="access token lifetime, seconds (default 3600)")
    option("--client-credentials-ttl", type=int, default=300, help="client_credentials token lifetime (default 300)")
    option("--refresh-ttl", type=int, default=90 * 86400, help="refresh token lifetime (default 3 months)")
    args = parser.parse_args(argv)
    settings = {
        "password_grant": args.password_grant,
        "enforce_grant_types": args.enforce_grant_types,
        "manual_approval": args.manual_approval,
        "username": args.username,
        "password": args.password,
        "patient_password": args.patient_password,
        "token_ttl_s": args.token_ttl,
        "client_credentials_ttl_s": args.client_credentials_ttl,
        "refresh_ttl_s": args.refresh_ttl,
    }
    client = (args.client_id, args.client_secret)
    emulator = OpenEmrEmulator(Store(args.data, SCHEMA), settings, args.seed, args.patients, client)
    serve(emulator, args.host, args.port)


if __name__ == "__main__":
    main()
