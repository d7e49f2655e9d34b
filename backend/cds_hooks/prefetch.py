"""The FHIR data a hook needs: from the call's prefetch when the EHR sent it, else fetched by the service.

Prefetch templates are declared in discovery (services.SERVICES). What arrives under a key means
(CDS Hooks 2.0, "Prefetch Template"): absent, the EHR did not fetch it; null, no such resource; a Bundle,
the search's result; an OperationOutcome, the EHR's fetch failed. Absent or failed, the service runs the
template itself against the FHIR server: the EHR's own (`fhirServer` with the `fhirAuthorization` token,
when that server is one the issuer is registered with), else the hospital FHIR server the CDSS is
configured with (HAPI FHIR, FHIR_BASE_URL). When neither can answer, the call is answered 412, as the
specification requires. The access token is used for the call only: never stored, never logged.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings

from core.http import ExternalNotFound, ExternalSession, ExternalSystemError, Timeouts
from fhir_sync.clients.hapi_client import FHIR_JSON, get_hapi_client

from .auth import CdsClient

PATIENT = "Patient/{{context.patientId}}"
IMAGING_STUDIES = "ImagingStudy?patient={{context.patientId}}&_count=50"


class PrefetchUnavailable(Exception):
    """Data the hook needs could not be had from the prefetch nor from a FHIR server."""


@dataclass
class Prefetched:
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # key -> "prefetch" | "fhir" (for the audit trail)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def render(template: str, context: dict[str, Any]) -> str:
    """A template with its context tokens filled in (only root-level string fields of the context)."""
    out = template
    for name, value in context.items():
        if isinstance(value, str):
            out = out.replace("{{context.%s}}" % name, quote(value, safe=""))  # noqa: UP031 - braces
    return out


def gather(templates: dict[str, str], *, call: dict[str, Any], client: CdsClient) -> Prefetched:
    context = call.get("context") or {}
    given = call.get("prefetch") if isinstance(call.get("prefetch"), dict) else {}
    found = Prefetched()
    for key, template in templates.items():
        value = given.get(key, ...)
        if value is not ... and not _is_outcome(value):
            found.values[key], found.sources[key] = value, "prefetch"
            continue
        found.values[key], found.sources[key] = fetch(render(template, context), call=call, client=client), "fhir"
    return found


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def fetch(relative: str, *, call: dict[str, Any], client: CdsClient) -> dict | None:
    """The template's answer from a FHIR server; None for a read of a resource that does not exist."""
    server = str(call.get("fhirServer") or "").rstrip("/")
    authorization = call.get("fhirAuthorization") if isinstance(call.get("fhirAuthorization"), dict) else {}
    token = authorization.get("access_token")
    try:
        if server and token and server in client.issuer.fhir_servers:
            return _ehr_fetch(server, str(token), relative)
        if settings.FHIR_BASE_URL:
            return get_hapi_client().get_json(relative)
    except ExternalNotFound:
        if "?" in relative:
            raise PrefetchUnavailable(f"the FHIR server has no {relative.split('?')[0]} search") from None
        return None
    except ExternalSystemError as exc:
        raise PrefetchUnavailable(f"the FHIR server could not answer {relative.split('?')[0]}: {exc}") from exc
    raise PrefetchUnavailable("no prefetch and no FHIR server to ask")


def _ehr_fetch(server: str, token: str, relative: str) -> dict:
    session = ExternalSession("fhir", server, timeouts=Timeouts(connect=2, read=5), retries=0)
    response = session.request(
        "GET",
        relative,
        resource_type=relative.split("?")[0],
        headers={"Accept": FHIR_JSON, "Authorization": f"Bearer {token}"},
    )
    if response.status_code in (404, 410):
        raise ExternalNotFound("fhir", "not found", status_code=response.status_code)
    if response.status_code >= 400:
        raise ExternalSystemError("fhir", f"HTTP {response.status_code}", status_code=response.status_code)
    return response.json()


def resources(bundle: Any, resource_type: str) -> list[dict]:
    """The resources of `resource_type` in a searchset (or collection) Bundle; [] for anything else."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return []
    return [
        entry["resource"]
        for entry in bundle.get("entry") or []
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == resource_type
    ]
