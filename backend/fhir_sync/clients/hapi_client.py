"""HAPIClient: writes to and reads from the hospital's HAPI FHIR R4 server.

Facts relied on (CONTRACTS.md section A): 201 + Location on create; conditional create with
If-None-Exist answers 201 (created), 200 (one match: nothing written) or 412 (several matches);
If-Match mismatches answer 409 (HAPI) where the spec says 412: both are "version conflict"; deleted
resources answer 410; search pages are followed through `link[relation=next]` verbatim and `total`
may be absent; errors are OperationOutcomes whose diagnostics start with "HAPI-nnnn:". HAPI itself
has no auth; when the hospital puts an OAuth2 gateway in front (FHIR_TOKEN_URL), this client uses the
client-credentials grant, caches the token until shortly before it expires and retries once on 401.

Resources go in and come out as fhirclient R4 models, so what we send is validated before it leaves.
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from core.http import (
    ExternalAuthRefused,
    ExternalNotFound,
    ExternalRejected,
    ExternalSession,
    ExternalSystemError,
    SystemTimeout,
    SystemUnavailable,
    Timeouts,
)

SYSTEM = "fhir"
FHIR_JSON = "application/fhir+json"


class FhirError(ExternalSystemError):
    """An error answer from the FHIR server, with the OperationOutcome's diagnostics kept."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        diagnostics: list[str] | None = None,
        outcome: dict | None = None,
    ):
        super().__init__(SYSTEM, detail, status_code=status_code)
        self.diagnostics = diagnostics or []
        self.outcome = outcome


class FhirNotFound(FhirError, ExternalNotFound):
    pass


class FhirGone(FhirError, ExternalNotFound):
    """Deleted (or an expired search page)."""


class FhirVersionConflict(FhirError):
    """If-Match did not name the current version (HAPI 409, spec 412): re-read and retry."""

    api_status = 409
    title = "The FHIR resource changed meanwhile"


class FhirMultipleMatches(FhirError):
    """A conditional create/update matched several resources: a data problem, never retried."""

    api_status = 409
    title = "Several FHIR resources carry the same identifier"


class FhirInvalid(FhirError, ExternalRejected):
    """400/422: what we sent is invalid (a dangling reference, a bad value)."""


class FhirUnavailable(FhirError, SystemUnavailable):
    pass


class FhirTimeout(FhirError, SystemTimeout):
    pass


class FhirAuthRefused(FhirError, ExternalAuthRefused):
    pass


@dataclass(frozen=True)
class WriteResult:
    resource_type: str
    id: str
    version: str
    created: bool  # False for a conditional create that matched an existing resource, or an update
    resource: FHIRAbstractResource | None


class HAPIClient:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        timeouts: Timeouts | None = None,
    ):
        self.http = ExternalSession(
            SYSTEM,
            base_url or settings.FHIR_BASE_URL,
            timeouts=timeouts or Timeouts(connect=3, read=settings.FHIR_TIMEOUT_SECONDS),
        )
        self.token_url = token_url if token_url is not None else settings.FHIR_TOKEN_URL
        self.client_id = client_id or settings.FHIR_CLIENT_ID
        self.client_secret = client_secret or settings.FHIR_CLIENT_SECRET
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._token_lock = threading.Lock()

    # --- writes ------------------------------------------------------------------------------------
    def create(self, resource: FHIRAbstractResource) -> WriteResult:
        return self._write("POST", resource.resource_type, resource)

    def conditional_create(self, resource: FHIRAbstractResource, system: str, value: str) -> WriteResult:
        """Create unless a resource with identifier system|value exists (then nothing is written)."""
        # The header is a search query: encoded like one, so values with & + = % or spaces match exactly.
        match = identifier_query(system, value)
        return self._write("POST", resource.resource_type, resource, headers={"If-None-Exist": match})

    def update(self, resource: FHIRAbstractResource, *, if_match_version: str | None = None) -> WriteResult:
        if not resource.id:
            raise ValueError("update needs resource.id")
        headers = {"If-Match": f'W/"{if_match_version}"'} if if_match_version else {}
        return self._write("PUT", f"{resource.resource_type}/{resource.id}", resource, headers=headers)

    def conditional_update(self, resource: FHIRAbstractResource, system: str, value: str) -> WriteResult:
        """Upsert by business identifier: 0 matches creates, 1 updates, several is an error."""
        resource.id = None  # HAPI ignores a body id on conditional updates; do not pretend otherwise
        path = f"{resource.resource_type}?identifier={quote(_token(system, value), safe='')}"
        return self._write("PUT", path, resource)

    def delete(self, resource_type: str, resource_id: str) -> None:
        self._request("DELETE", f"{resource_type}/{resource_id}", resource_type=resource_type)

    def transaction(
        self, entries: list[dict[str, Any]], *, prefer: str = "return=minimal", validate: bool = True
    ) -> dict[str, Any]:
        """POST a transaction Bundle (atomic) to the server base; returns the transaction-response, one entry
        per request entry in the same order, each with its `response.status`, `location` and `etag`
        (A.11). `Prefer: return=minimal` (the default): no resources in the answer. A failing entry fails
        the whole Bundle: nothing was written, and the error is that entry's (FhirInvalid, ...)."""
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        if validate:  # against the R4 model; a caller whose resources came from as_json() may skip it
            bundle = FHIRElementFactory.instantiate("Bundle", bundle).as_json()
        response = self._request("POST", "", json=bundle, resource_type="Bundle", headers={"Prefer": prefer})
        answer = _json(response)
        if answer.get("resourceType") != "Bundle" or len(answer.get("entry") or []) != len(entries):
            raise FhirError("the server's answer to a transaction is not a transaction-response for each entry")
        return answer

    # --- reads -------------------------------------------------------------------------------------
    def read(self, resource_type: str, resource_id: str) -> FHIRAbstractResource:
        response = self._request("GET", f"{resource_type}/{resource_id}", resource_type=resource_type)
        return _parse(_json(response))

    def version_of(self, resource_type: str, resource_id: str) -> str:
        return self.read(resource_type, resource_id).meta.versionId

    def search_by_identifier(
        self, resource_type: str, system: str, value: str, *, page_size: int = 50
    ) -> Iterator[FHIRAbstractResource]:
        """Every match, page after page, following the server's own next links."""
        path = f"{resource_type}?identifier={quote(_token(system, value), safe='')}&_count={page_size}"
        headers = {"Cache-Control": "no-cache"}  # HAPI may answer a repeated search from a 60 s cache
        while path:
            bundle = _json(self._request("GET", path, headers=headers, resource_type=resource_type))
            if bundle.get("resourceType") != "Bundle":
                raise FhirError("the server's answer to a search is not a Bundle")
            for entry in bundle.get("entry", []):
                if entry.get("search", {}).get("mode", "match") == "match":
                    yield _parse(entry.get("resource") or {})
            path = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)

    def get_json(self, path: str) -> dict[str, Any]:
        """A read or a search by a relative URL (a CDS Hooks prefetch template), its first page as plain JSON."""
        resource_type = path.split("?", 1)[0].split("/", 1)[0]
        headers = {"Cache-Control": "no-cache"}
        return _json(self._request("GET", path, headers=headers, resource_type=resource_type))

    def capability_statement(self) -> dict[str, Any]:
        return _json(self._request("GET", "metadata", resource_type="CapabilityStatement"))

    # --- plumbing ----------------------------------------------------------------------------------
    def _write(
        self, method: str, path: str, resource: FHIRAbstractResource, headers: dict | None = None
    ) -> WriteResult:
        body = resource.as_json()  # validates against the R4 model before anything is sent
        response = self._request(
            method,
            path,
            json=body,
            resource_type=resource.resource_type,
            headers={"Prefer": "return=representation", **(headers or {})},
        )
        stored = _parse(_json(response)) if response.content else None
        location = response.headers.get("Location") or response.headers.get("Content-Location") or ""
        resource_id, version = _id_and_version(location, stored)
        return WriteResult(resource.resource_type, resource_id, version, response.status_code == 201, stored)

    def _request(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        headers = {"Accept": FHIR_JSON, **(headers or {})}
        if "json" in kwargs:
            kwargs["data"] = _dumps(kwargs.pop("json"))
            headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
        response = self.http.request(method, path, headers={**headers, **self._auth()}, **kwargs)
        if response.status_code == 401 and self.token_url:  # the gateway rejected our token: one new one
            self._token = None
            response = self.http.request(method, path, headers={**headers, **self._auth()}, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _auth(self) -> dict[str, str]:
        if not self.token_url:
            return {}
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                response = self.http.request(
                    "POST",
                    self.token_url,
                    resource_type="oauth_token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
                if response.status_code in (400, 401, 403):
                    raise FhirAuthRefused(
                        f"the FHIR token endpoint refused the CDSS's client (HTTP {response.status_code})",
                        status_code=response.status_code,
                    )
                if response.status_code != 200:
                    raise _error(response)
                body = _json(response)
                if not isinstance(body.get("access_token"), str):
                    raise FhirError("the FHIR token endpoint's answer has no access_token")
                try:
                    lifetime = float(body.get("expires_in", 300))
                except (TypeError, ValueError):
                    lifetime = 300.0
                self._token = (body["access_token"], time.monotonic() + max(lifetime - 30, lifetime / 2))
            return {"Authorization": f"Bearer {self._token[0]}"}


def identifier_query(system: str, value: str) -> str:
    """`identifier=system|value` as a search query (an If-None-Exist header, a Bundle entry's ifNoneExist)."""
    return f"identifier={quote(_token(system, value), safe='')}"


def _token(system: str, value: str) -> str:
    """A token search value system|value, with FHIR's escapes for the characters search treats specially."""
    return f"{_escape(system)}|{_escape(value)}"


def _escape(text: str) -> str:
    for special in ("\\", "|", ",", "$"):
        text = text.replace(special, "\\" + special)
    return text


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _json(response) -> dict:
    """The answer's JSON object; anything else (an HTML error page from a proxy, a truncated body) is an
    error of the external system, not a crash of ours."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        kind = response.headers.get("Content-Type", "no Content-Type")
        raise FhirError(
            f"the server's answer (HTTP {response.status_code}, {kind}) is not a JSON object",
            status_code=response.status_code,
        )
    return body


def _parse(body: dict) -> FHIRAbstractResource:
    """A resource the server sent, as its fhirclient model; one the model refuses is the server's error."""
    try:
        return FHIRElementFactory.instantiate(body["resourceType"], body)
    except (KeyError, TypeError, FHIRValidationError) as exc:
        raise FhirError(f"the server sent a resource that is not valid R4: {exc}") from exc


def entry_location(entry: dict[str, Any]) -> tuple[str, str, int]:
    """(id, version, status) of one transaction-response entry: `location` is relative,
    `Type/id/_history/v`, `status` a string such as "201 Created"."""
    answer = entry.get("response") or {}
    try:
        status = int(str(answer.get("status", "")).split()[0])
    except (ValueError, IndexError):
        raise FhirError(f"a transaction-response entry has no valid status: {answer.get('status')!r}") from None
    resource_id, version = _id_and_version(str(answer.get("location") or ""), None)
    return resource_id, version, status


def _id_and_version(location: str, stored: FHIRAbstractResource | None) -> tuple[str, str]:
    parts = location.rstrip("/").split("/")
    if "_history" in parts:
        index = parts.index("_history")
        return parts[index - 1], parts[index + 1]
    if stored is not None and stored.meta is not None:
        return stored.id, stored.meta.versionId
    raise FhirError("the server did not say which resource it wrote")


_ERRORS_BY_STATUS: dict[int, type[FhirError]] = {
    400: FhirInvalid,
    422: FhirInvalid,
    404: FhirNotFound,
    410: FhirGone,
    409: FhirVersionConflict,
    412: FhirVersionConflict,
    503: FhirUnavailable,
    429: FhirUnavailable,
    504: FhirTimeout,
    401: FhirAuthRefused,
    403: FhirAuthRefused,
}


def _error(response) -> FhirError:
    outcome = None
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            outcome = body
    except ValueError:
        pass
    diagnostics = [issue.get("diagnostics", "") for issue in (outcome or {}).get("issue", [])]
    detail = "; ".join(filter(None, diagnostics)) or f"HTTP {response.status_code}"
    status = response.status_code
    error_class = _ERRORS_BY_STATUS.get(status, FhirError)
    if status == 412 and any("matched" in text for text in diagnostics):
        error_class = FhirMultipleMatches  # HAPI-0958/0988: several resources carry the identifier
    return error_class(detail, status_code=status, diagnostics=diagnostics, outcome=outcome)


def get_hapi_client() -> HAPIClient:
    return HAPIClient()
