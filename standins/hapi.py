"""Stand-in for a HAPI FHIR R4 JPA server with the starter's defaults (CONTRACTS.md section A).

    backend/.venv/bin/python -m standins.hapi --port 8080 --data var/hapi.sqlite3   (from the repository root)

Faithful where clients get hurt: 409 (not 412) on an If-Match mismatch, 200 without a write when a
conditional create matches, 410 for deleted resources and expired searches, `Location` on POST only,
HAPI-nnnn diagnostics, referential integrity on write and delete, `_getpages` paging links. Like stock
HAPI it has no authentication unless started with --auth (then it plays the OAuth2 gateway of A.15).
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import uuid
from base64 import b64decode
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .common import words
from .common.emulator import Emulator
from .common.messages import HttpError, Request, Response, json_response
from .common.routing import NoRoute, Route
from .common.serving import base_parser, serve
from .common.smart import SMART_SCOPE, oauth_error, smart_scope_allows, smart_security
from .common.store import Store

FHIR_JSON = "application/fhir+json;charset=utf-8"
JSON_MEDIA_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}
HAPI_VERSION = "8.4.0"
STORAGE_CODE_SYSTEM = "https://hapifhir.io/fhir/CodeSystem/hapi-fhir-storage-response-code"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


# Every R4 resource type; HAPI serves them all, so does the emulator (storage is type-agnostic).
RESOURCE_TYPES = frozenset(
    words(
        """Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent
    Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam
    CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
    CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage
    CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric
    DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group
    GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation ImmunizationRecommendation
    ImplementationGuide InsurancePlan Invoice Library Linkage List Location Measure MeasureReport Media Medication
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement
    MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
    MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition MessageHeader
    MolecularSequence NamingSystem NutritionOrder Observation ObservationDefinition OperationDefinition
    OperationOutcome Organization OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation
    Person PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse
    RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject
    RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition
    StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult VisionPrescription"""
    )
)

# Required bindings HAPI's parser enforces even without validation (bad code -> 400 HAPI-0450/1821).
CODE_BINDINGS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("Patient", "gender"): ("AdministrativeGender", frozenset(words("male female other unknown"))),
    ("Observation", "status"): (
        "ObservationStatus",
        frozenset(words("registered preliminary final amended corrected cancelled entered-in-error unknown")),
    ),
    ("DiagnosticReport", "status"): (
        "DiagnosticReportStatus",
        frozenset(
            words("registered partial preliminary final amended corrected appended cancelled entered-in-error unknown")
        ),
    ),
    ("ServiceRequest", "status"): (
        "RequestStatus",
        frozenset(words("draft active on-hold revoked completed entered-in-error unknown")),
    ),
    ("ServiceRequest", "intent"): (
        "RequestIntent",
        frozenset(
            words("proposal plan directive order original-order reflex-order filler-order instance-order option")
        ),
    ),
    ("ImagingStudy", "status"): (
        "ImagingStudyStatus",
        frozenset(words("registered available cancelled entered-in-error unknown")),
    ),
    ("AuditEvent", "action"): ("AuditEventAction", frozenset(words("C R U D E"))),
    ("AuditEvent", "outcome"): ("AuditEventOutcome", frozenset(words("0 4 8 12"))),
}

# A.16 required elements; checked only with validation on (stock HAPI validates nothing: 422 needs the
# RequestValidatingInterceptor). Dotted paths walk into every element of a list.
REQUIRED_ELEMENTS: dict[str, tuple[str, ...]] = {
    "ServiceRequest": ("status", "intent", "subject"),
    "ImagingStudy": (
        "status",
        "subject",
        "series.uid",
        "series.modality",
        "series.instance.uid",
        "series.instance.sopClass",
    ),
    "DiagnosticReport": ("status", "code"),
    "Observation": ("status", "code"),
    "AuditEvent": ("type", "recorded", "agent", "agent.requestor", "source", "source.observer"),
}

# Reference paths whose target type HAPI checks against the search parameter (422 HAPI-0931).
REFERENCE_TARGETS: dict[str, frozenset[str]] = {
    "Observation.subject": frozenset({"Patient", "Group", "Device", "Location"}),
    "ServiceRequest.subject": frozenset({"Patient", "Group", "Location", "Device"}),
    "ImagingStudy.subject": frozenset({"Patient", "Device", "Group"}),
    "DiagnosticReport.subject": frozenset({"Patient", "Group", "Device", "Location"}),
    "DiagnosticReport.basedOn": frozenset(
        {"CarePlan", "ImmunizationRecommendation", "MedicationRequest", "NutritionOrder", "ServiceRequest"}
    ),
    "DiagnosticReport.imagingStudy": frozenset({"ImagingStudy"}),
    "DiagnosticReport.result": frozenset({"Observation"}),
    "Patient.managingOrganization": frozenset({"Organization"}),
}

SEARCH_PARAMS = ("_id", "identifier", "status", "subject", "patient")
REFERENCE_PARAMS = frozenset({"subject", "patient"})  # both search Type.subject; `patient` means Patient/<id>
RESULT_PARAMS = frozenset({"_count", "_offset", "_format", "_pretty", "_total"})  # shape the answer, match nothing

# Diagnostics as HAPI words them (CONTRACTS.md A.5-A.15). The HAPI-nnnn number is given where the contract
# gives one; clients match on some of these texts, so they live in one table.
MESSAGES = {
    "unknown_type": "HAPI-0302: Unknown resource type '{rtype}' - Server knows how to handle: {known}",
    "not_known": "HAPI-2001: Resource {ref} is not known",
    "deleted": "Resource was deleted at {when}",
    "bad_version": 'Version "{vid}" is not valid for resource {ref}',
    "search_expired": 'HAPI-0417: Search ID "{search_id}" does not exist and may have expired',
    "unknown_param": 'Unknown search parameter "{name}" for resource type "{rtype}". '
    "Valid search parameters for this search are: {valid}",
    "no_operation": "Invalid request: The FHIR endpoint on this server does not know how to handle GET operation[] "
    "with parameters [{params}]",
    "bad_match_url": 'Invalid match URL "{url}" - {why}',
    "bundle_to_bundle": "Unable to store a Bundle resource on this server with a Bundle.type value of: {kind}. "
    "Note that if you are trying to perform a FHIR 'transaction' or 'batch' operation you should POST the Bundle "
    "resource to the Base URL of the server, not to the '/Bundle' endpoint.",
    "bundle_type": "Unable to process request, this server can only handle Bundle type transaction or batch, "
    "found: {kind}",
    "bad_entry": "Bundle entry {index}: {why}",
    "no_url_id": "HAPI-0418: Can not update resource, request URL must contain an ID element for update (PUT) "
    "operation (it must be of the form [base]/[resource type]/[id])",
    "no_body_id": "HAPI-0419: Can not update resource, resource body must contain an ID element for update (PUT) "
    "operation",
    "id_mismatch": "HAPI-0420: Can not update resource, resource body must contain an ID element which matches the "
    'request URL for update (PUT) operation - Resource body ID of "{body_id}" does not match URL ID of "{url_id}"',
    "no_delete_target": "Can not perform delete, no ID provided and no conditional URL",
    "in_transaction": "HAPI-0550: HAPI-0550: {diagnostics}",
    "update_conflict": "HAPI-0989: Trying to update {ref}/_history/{version} but this is not the current version",
    "delete_conflict": "HAPI-0961: Trying to delete {ref}/_history/{version} but this is not the current version",
    "several_matches": 'HAPI-{code}: Failed to {operation} resource with match URL "{url}" because this search '
    "matched {count} resources",
    "reference_no_match": 'HAPI-1091: Invalid match URL "{url}" - No resources match this search',
    "reference_several_matches": 'HAPI-1092: Invalid match URL "{url}" - Multiple resources match this search',
    "still_referenced": "HAPI-0550: Unable to delete {ref} because at least one resource has a reference to this "
    "resource. First reference found was resource {source} in path {path}",
    "wrong_target_type": "HAPI-0931: Invalid reference found at path '{path}'. Resource type '{rtype}' is not valid "
    "for this path",
    "missing_target": "HAPI-1094: Resource {ref} not found, specified in path: {path}",
    "deleted_target": "HAPI-1096: Resource {ref} is deleted, specified in path: {path}",
    "external_reference": 'Resource contains external reference to URL "{url}" but this server is not configured to '
    "allow external references",
    "no_content_type": 'No Content-Type header was provided in the request. This is required for "{operation}" '
    "operation",
    "bad_content_type": 'Incorrect Content-Type header value of "{content_type}" was provided in the request. A FHIR '
    'Content-Type is required for "{operation}" operation',
    "bad_json": "HAPI-1861: Failed to parse JSON encoded FHIR content: {error}",
    "no_resource_type": "HAPI-1838: Invalid JSON content detected, missing required element: 'resourceType'",
    "wrong_resource_type": "HAPI-0450: Failed to parse request body as JSON resource. Error was: Incorrect resource "
    'type found, expected "{expected}" but found "{found}"',
    "bad_code": "HAPI-0450: Failed to parse request body as JSON resource. Error was: HAPI-1821: "
    '[element="{element}"] Invalid attribute value "{value}": Unknown {value_set} code \'{value}\'',
    "invalid_id": "Can not process entity with ID[{rid}], this is not a valid FHIR ID",
    "client_ids_off": "HAPI-0959: No resource exists on this server resource with ID[{rid}], and client-assigned IDs "
    "are not enabled.",
    "numeric_client_id": "HAPI-0960: Can not create resource with ID[{rid}], no resource with this ID exists and "
    "clients may only assign IDs which contain at least one non-numeric character",
    "bad_number": 'Invalid {name} value: "{value}"',
    "bad_etag": 'Invalid version in If-Match header: "{value}"',
    "unauthenticated": "HAPI-0644: Missing or invalid Authorization header value",
    "denied": "Access denied by default policy (no applicable rules)",
}

# storage response code -> (display, diagnostics template); {ref} is Type/id/_history/v, {url} the match URL
STORAGE_CODES = {
    "SUCCESSFUL_CREATE": ("Create succeeded.", 'Successfully created resource "{ref}".'),
    "SUCCESSFUL_CREATE_NO_CONDITIONAL_MATCH": (
        "Conditional create succeeded: no existing resource matched the conditional URL.",
        'Successfully conditionally created resource "{vless}". No existing resources matched URL "{url}".',
    ),
    "SUCCESSFUL_CREATE_WITH_CONDITIONAL_MATCH": (
        "Conditional create succeeded: an existing resource matched the conditional URL so no action was taken.",
        'Successfully conditionally created resource "{ref}". Existing resource matched URL "{url}".',
    ),
    "SUCCESSFUL_UPDATE": ("Update succeeded.", 'Successfully updated resource "{ref}".'),
    "SUCCESSFUL_UPDATE_AS_CREATE": (
        "Update as create succeeded.",
        'Successfully created resource "{ref}" using update as create (ie. create with client assigned ID).',
    ),
    "SUCCESSFUL_UPDATE_NO_CHANGE": (
        "Update succeeded: No changes were detected so no action was taken.",
        'Successfully updated resource "{ref}" with no changes detected.',
    ),
    "SUCCESSFUL_UPDATE_NO_CONDITIONAL_MATCH": (
        "Conditional update succeeded: no existing resource matched the conditional URL so a new resource was created.",
        'Successfully conditionally created resource "{ref}". No existing resources matched URL "{url}".',
    ),
    "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH": (
        "Conditional update succeeded: an existing resource matched the conditional URL and was updated.",
        'Successfully conditionally updated resource "{ref}". Existing resource matched URL "{url}".',
    ),
    "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH_NO_CHANGE": (
        "Conditional update succeeded: an existing resource matched the conditional URL and was updated, "
        "but no changes were detected so no action was taken.",
        'Successfully conditionally updated resource "{ref}" with no changes detected. Existing resource matched '
        'URL "{url}".',
    ),
    "SUCCESSFUL_DELETE": ("Delete succeeded.", "Successfully deleted {count} resource(s)."),
    "SUCCESSFUL_DELETE_ALREADY_DELETED": (
        "Delete succeeded: Resource was already deleted so no action was taken.",
        "Not deleted, resource {vless} was already deleted.",
    ),
    "SUCCESSFUL_DELETE_NOT_FOUND": (
        "Delete succeeded: No existing resource was found so no action was taken.",
        'Not deleted, no resource matched "{vless}".',
    ),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: search results come back in it, as in HAPI
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    updated REAL NOT NULL, body TEXT, UNIQUE (type, id));
CREATE TABLE IF NOT EXISTS resource_version (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    updated REAL NOT NULL, body TEXT, PRIMARY KEY (type, id, version));
CREATE TABLE IF NOT EXISTS token_index (type TEXT, id TEXT, param TEXT, system TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS token_lookup ON token_index (type, param, value);
CREATE TABLE IF NOT EXISTS reference_index (type TEXT, id TEXT, path TEXT, target_type TEXT, target_id TEXT);
CREATE INDEX IF NOT EXISTS reference_target ON reference_index (target_type, target_id);
CREATE TABLE IF NOT EXISTS search (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, cache_key TEXT NOT NULL, created REAL NOT NULL, matches TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS server_id (pid INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS access_token (token TEXT PRIMARY KEY, client_id TEXT, scope TEXT, expires REAL);
"""

SETTING_CHECKS = {
    "client_id_strategy": lambda v: v in {"ALPHANUMERIC", "ANY", "NOT_ALLOWED"},
    "token_ttl_s": lambda v: v > 0,
    "default_page_size": lambda v: v > 0,
    "search_cache_ms": lambda v: v >= 0,
    "search_retain_s": lambda v: v >= 0,
}


# --- small pure helpers -------------------------------------------------------------------------------


def instant(epoch: float) -> str:
    """FHIR instant as HAPI writes it: milliseconds and a numeric offset."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def operation_outcome(severity: str, code: str, diagnostics: str, **extra: Any) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, **extra, "diagnostics": diagnostics}],
    }


def fhir_json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, payload, FHIR_JSON, headers)


class FhirError(HttpError):
    """An error answered as HAPI does: an OperationOutcome, issue code `processing`, HAPI-nnnn diagnostics."""

    def __init__(self, status: int, diagnostics: str, outcome: dict | None = None, headers: dict | None = None):
        self.status = status
        self.diagnostics = diagnostics
        self.outcome = outcome or operation_outcome("error", "processing", diagnostics)
        super().__init__(fhir_json(status, self.outcome, headers))


def fail(status: int, message: str, **values: Any) -> FhirError:
    """FhirError with the MESSAGES text `message`; raise what this returns."""
    return FhirError(status, MESSAGES[message].format(**values))


def status_line(status: int) -> str:
    return {200: "200 OK", 201: "201 Created", 204: "204 No Content"}[status]


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split a search value on `separator` unless backslash-escaped (R4 search.html#escaping)."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += char if char in ",|$\\" else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def parse_etag(value: str) -> int:
    digits = value.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise fail(400, "bad_etag", value=value)
    return int(digits)


def prefer_return(request: Request) -> str:
    """`representation` (HAPI's default), `minimal` or `operationoutcome`."""
    for part in re.split(r"[;,]", request.header("Prefer")):
        name, _, value = part.strip().partition("=")
        if name.lower() == "return":
            return value.strip().strip('"').lower()
    return "representation"


def content_of(resource: dict) -> dict:
    """What a no-op update compares: the resource without id and server-managed meta."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in {"versionId", "lastUpdated", "source"}}
    stripped = {k: v for k, v in resource.items() if k not in {"id", "meta"}}
    return {**stripped, "meta": meta} if meta else stripped


def walk_references(node: Any, path: str):
    """(path, reference dict) for every Reference with a literal `reference`, outside contained and extensions."""
    if isinstance(node, list):
        for item in node:
            yield from walk_references(item, path)
    elif isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield path, node
        for key, value in node.items():
            if key not in {"contained", "extension", "modifierExtension"}:
                yield from walk_references(value, f"{path}.{key}")


def missing_required(resource: dict, path: str, location: str) -> list[str]:
    """Locations (FHIRPath-ish) where the dotted `path` has no value."""
    head, _, rest = path.partition(".")
    value = resource.get(head)
    if value in (None, "", [], {}):
        return [f"{location}.{head}"]
    if not rest:
        return []
    items = value if isinstance(value, list) else [value]
    found = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            found += missing_required(item, rest, f"{location}.{head}[{index}]")
    return found


@dataclass
class Head:
    """The current version of a resource."""

    type: str
    id: str
    version: int
    deleted: bool
    updated: float
    body: dict | None


@dataclass
class Outcome:
    """What a write did; becomes either an HTTP answer or a transaction-response entry."""

    status: int
    code: str
    diagnostics: str
    type: str
    id: str
    version: int
    updated: float
    resource: dict | None  # as stored now; None after a delete
    changed: bool  # something was written, so integrity must be checked


@dataclass
class Entry:
    """One transaction/batch entry, parsed."""

    index: int
    method: str
    url: str
    type: str
    id: str | None
    match_url: str | None  # conditional update/delete URL, or ifNoneExist of a POST
    resource: dict | None
    full_url: str | None
    if_match: str | None
    existing: bool = False  # a POST whose ifNoneExist matched: nothing is written
    server_assigned: bool = False  # a conditional PUT that matched nothing: created under a server id

    @property
    def permission(self) -> str:
        """SMART permission letter the entry needs."""
        return {"DELETE": "d", "POST": "c", "PUT": "u"}.get(self.method) or ("s" if self.id is None else "r")


# --- the emulator ----------------------------------------------------------------------------------------


class HapiEmulator(Emulator):
    name = "hapi"

    def __init__(self, store: Store, settings: dict[str, Any], base_path: str = "/fhir"):
        super().__init__(store, settings, SETTING_CHECKS)
        self.base_path = base_path.rstrip("/")
        base, rtype, rid = re.escape(self.base_path), r"(?P<rtype>[A-Za-z]+)", r"(?P<rid>[^/]+)"
        add = self.router.add
        add("POST", "/oauth/token", self.token, public=True)
        add("GET", f"{base}/metadata", self.capabilities, public=True)
        add("GET", f"{base}/?", self.page)
        add("POST", f"{base}/?", self.transaction)
        add("GET", f"{base}/{rtype}", self.search, permission="s")
        add("POST", f"{base}/{rtype}", self.create, permission="c")
        add("PUT", f"{base}/{rtype}", self.conditional_update, permission="u")
        add("DELETE", f"{base}/{rtype}", self.conditional_delete, permission="d")
        add("GET", f"{base}/{rtype}/{rid}", self.read, permission="r")
        add("PUT", f"{base}/{rtype}/{rid}", self.update, permission="u")
        add("DELETE", f"{base}/{rtype}/{rid}", self.delete, permission="d")
        add("GET", f"{base}/{rtype}/{rid}/_history", self.history, permission="r")
        add("GET", f"{base}/{rtype}/{rid}/_history/(?P<vid>[^/]+)", self.vread, permission="r")

    # --- hooks ---------------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        return fhir_json(status, operation_outcome("error", "processing", message))

    def authorize(self, request: Request, route: Route, params: dict[str, str]) -> None:
        """Unknown resource types are 404 before anything else; then the bearer check, when auth is on."""
        if "rtype" in params:
            self._known_type(params["rtype"])
        if not route.meta.get("public"):
            self._require(request, params.get("rtype"), route.meta.get("permission"))

    def _require(self, request: Request, resource_type: str | None, permission: str | None) -> None:
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

    # --- OAuth2 token endpoint: the gateway a secured HAPI sits behind (A.15) ------------------------------
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

    # --- CapabilityStatement (A.14) -------------------------------------------------------------------
    def capabilities(self, request: Request) -> Response:
        params = [{"name": p, "type": "reference" if p in REFERENCE_PARAMS else "token"} for p in SEARCH_PARAMS]
        interactions = ("read", "vread", "update", "delete", "history-instance", "create", "search-type")
        resource = {
            "interaction": [{"code": code} for code in interactions],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": True,
            "conditionalDelete": "multiple",
            "searchParam": params,
        }
        rest: dict[str, Any] = {
            "mode": "server",
            "resource": [{"type": rtype, **resource} for rtype in sorted(RESOURCE_TYPES)],
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
        }
        if self.settings["auth"]:
            rest["security"] = smart_security({"token": f"{request.origin}/oauth/token"})
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": instant(self.clock.now()),
            "publisher": "Not provided",
            "kind": "instance",
            "software": {"name": "HAPI FHIR Server", "version": HAPI_VERSION},
            "implementation": {"description": "HAPI FHIR R4 Server", "url": self._base(request)},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+xml", "xml", "application/fhir+json", "json"],
            "rest": [rest],
        }
        return fhir_json(200, statement)

    # --- reads (A.5) ------------------------------------------------------------------------------------
    def read(self, request: Request, rtype: str, rid: str) -> Response:
        head = self._live_head(rtype, rid)
        return fhir_json(200, head.body, self._version_headers(head.version, head.updated))

    def vread(self, request: Request, rtype: str, rid: str, vid: str) -> Response:
        version = int(vid) if vid.isdigit() else -1
        row = self.store.row(
            "SELECT * FROM resource_version WHERE type = ? AND id = ? AND version = ?", (rtype, rid, version)
        )
        if row is None:
            if self._head(rtype, rid) is None:
                raise fail(404, "not_known", ref=f"{rtype}/{rid}")
            raise fail(404, "bad_version", vid=vid, ref=f"{rtype}/{rid}")
        if row["deleted"]:
            raise fail(410, "deleted", when=instant(row["updated"]))
        return fhir_json(200, json.loads(row["body"]), self._version_headers(row["version"], row["updated"]))

    def history(self, request: Request, rtype: str, rid: str) -> Response:
        if self._head(rtype, rid) is None:
            raise fail(404, "not_known", ref=f"{rtype}/{rid}")
        rows = self.store.rows(
            "SELECT * FROM resource_version WHERE type = ? AND id = ? ORDER BY version DESC", (rtype, rid)
        )
        entries = []
        for row in rows:
            method = "DELETE" if row["deleted"] else ("POST" if row["version"] == 1 else "PUT")
            entry: dict[str, Any] = {"fullUrl": f"{self._base(request)}/{rtype}/{rid}"}
            if row["body"]:
                entry["resource"] = json.loads(row["body"])
            entry["request"] = {"method": method, "url": rtype if method == "POST" else f"{rtype}/{rid}"}
            entry["response"] = {
                "status": status_line(201 if method == "POST" else 200),
                "etag": f'W/"{row["version"]}"',
                "lastModified": instant(row["updated"]),
            }
            entries.append(entry)
        return fhir_json(200, self._bundle("history", request.url, entries, total=len(entries)))

    # --- search and paging (A.10) ----------------------------------------------------------------------
    def search(self, request: Request, rtype: str) -> Response:
        pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k not in RESULT_PARAMS]
        count = self._int_param(request, "_count", self.settings["default_page_size"])
        if request.param("_offset") is not None:
            # Offset paging is a plain query, not a stored search: its links repeat the query with _offset.
            offset = self._int_param(request, "_offset", 0)
            ids = self._search_ids(request, rtype, pairs)
            return self._searchset(request, str(uuid.uuid4()), rtype, ids, offset, count, offset_paging=pairs)
        search_id, ids = self._stored_search(request, rtype, pairs)
        return self._searchset(request, search_id, rtype, ids, 0, count)

    def page(self, request: Request) -> Response:
        search_id = request.param("_getpages")
        if search_id is None:
            raise fail(400, "no_operation", params=", ".join(sorted(request.query)))
        found = self.store.row("SELECT * FROM search WHERE id = ?", (search_id,))
        if found is None or found["created"] + self.settings["search_retain_s"] < self.clock.now():
            raise fail(410, "search_expired", search_id=search_id)
        self._require(request, found["type"], "s")
        offset = self._int_param(request, "_getpagesoffset", 0)
        count = self._int_param(request, "_count", self.settings["default_page_size"])
        return self._searchset(request, search_id, found["type"], json.loads(found["matches"]), offset, count)

    def _stored_search(self, request: Request, rtype: str, pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
        """HAPI keeps each search's result list for paging and, for 60 s, answers an identical search from it
        (so a resource created meanwhile is missing) unless the client sends Cache-Control: no-cache."""
        now, cache_s = self.clock.now(), self.settings["search_cache_ms"] / 1000
        cache_key = f"{rtype}?{urlencode(sorted(pairs))}"
        self.store.execute(
            "DELETE FROM search WHERE created < ?", (now - max(self.settings["search_retain_s"], cache_s),)
        )
        bypass = any(word in request.header("Cache-Control").lower() for word in ("no-cache", "no-store"))
        if cache_s and not bypass:
            cached = self.store.row(
                "SELECT id, matches FROM search WHERE cache_key = ? AND created >= ? ORDER BY created DESC LIMIT 1",
                (cache_key, now - cache_s),
            )
            if cached:
                return cached["id"], json.loads(cached["matches"])
        ids = self._search_ids(request, rtype, pairs)
        search_id = str(uuid.uuid4())
        self.store.execute(
            "INSERT INTO search VALUES (?, ?, ?, ?, ?)", (search_id, rtype, cache_key, now, json.dumps(ids))
        )
        return search_id, ids

    def _searchset(
        self,
        request: Request,
        search_id: str,
        rtype: str,
        ids: list[str],
        offset: int,
        count: int,
        offset_paging: list[tuple[str, str]] | None = None,
    ) -> Response:
        base = self._base(request)

        def link(relation: str, page_offset: int) -> dict:
            if offset_paging is not None:
                query = urlencode([*offset_paging, ("_count", count), ("_offset", page_offset)])
                return {"relation": relation, "url": f"{base}/{rtype}?{query}"}
            query = f"_getpages={search_id}&_getpagesoffset={page_offset}&_count={count}"
            return {"relation": relation, "url": f"{base}?{query}&_pretty=true&_bundletype=searchset"}

        links = [{"relation": "self", "url": request.url}]
        if count and offset + count < len(ids):
            links.append(link("next", offset + count))
        if count and offset > 0:
            links.append(link("previous", max(0, offset - count)))
        entries = []
        for rid in ids[offset : offset + count] if count else []:
            head = self._head(rtype, rid)
            if head and not head.deleted:
                entries.append({"fullUrl": f"{base}/{rtype}/{rid}", "resource": head.body, "search": {"mode": "match"}})
        bundle = self._bundle("searchset", request.url, entries, total=len(ids), bundle_id=search_id)
        bundle["link"] = links
        return fhir_json(200, bundle)

    def _search_ids(self, request: Request, rtype: str, pairs: list[tuple[str, str]]) -> list[str]:
        """Ids of live resources matching every parameter (AND), in creation order; `a,b` values are OR-ed."""
        valid = [p for p in SEARCH_PARAMS if rtype != "Patient" or p not in REFERENCE_PARAMS]
        matched: set[str] | None = None
        for name, value in pairs:
            if name not in valid:
                raise fail(400, "unknown_param", name=name, rtype=rtype, valid=valid)
            found: set[str] = set()
            for alternative in split_unescaped(value, ","):
                found |= self._ids_matching(request, rtype, name, alternative)
            matched = found if matched is None else matched & found
        rows = self.store.rows("SELECT id FROM resource WHERE type = ? AND deleted = 0 ORDER BY seq", (rtype,))
        return [row["id"] for row in rows if matched is None or row["id"] in matched]

    def _ids_matching(self, request: Request, rtype: str, name: str, value: str) -> set[str]:
        if name == "_id":
            return {value}
        if name in REFERENCE_PARAMS:
            if name == "patient" and "/" not in value:
                value = f"Patient/{value}"
            sql, args = "SELECT id FROM reference_index WHERE type = ? AND path = ?", [rtype, f"{rtype}.subject"]
            target = self._local_reference(request, value)
            if target:
                sql += " AND target_type = ? AND target_id = ?"
                args += target
            else:
                sql += " AND target_id = ?"
                args.append(value)
            return {row["id"] for row in self.store.rows(sql, tuple(args))}
        # token: `system|code`, `system|` (any code), `|code` (no system) or `code` (any system)
        parts = split_unescaped(value, "|")
        sql, args = "SELECT id FROM token_index WHERE type = ? AND param = ?", [rtype, name]
        if parts[-1]:
            sql += " AND value = ?"
            args.append(parts[-1])
        if len(parts) > 1:
            sql += " AND system = ?"
            args.append(parts[0])
        return {row["id"] for row in self.store.rows(sql, tuple(args))}

    def _match(self, request: Request, rtype: str, match_url: str) -> list[str]:
        """Ids matching a conditional URL (`identifier=s|v`, `Patient?identifier=…`, or absolute)."""
        url = match_url.strip().removeprefix(self._base(request) + "/")
        url_type, _, query = url.rpartition("?")
        if url_type and url_type != rtype:
            raise fail(400, "bad_match_url", url=match_url, why=f"it is not a {rtype} search")
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            raise fail(400, "bad_match_url", url=match_url, why="it has no search parameters")
        return self._search_ids(request, rtype, pairs)

    def _single_match(self, request: Request, rtype: str, match_url: str, operation: str, code: str) -> str | None:
        """The one id matching `match_url`, None if none; 412 when several match (A.4, A.8)."""
        matches = self._match(request, rtype, match_url)
        if len(matches) > 1:
            raise fail(412, "several_matches", code=code, operation=operation, url=match_url, count=len(matches))
        return matches[0] if matches else None

    # --- writes: HTTP handlers (A.2-A.9) ------------------------------------------------------------------
    def create(self, request: Request, rtype: str) -> Response:
        resource = self._validated(rtype, self._parse_body(request, "CREATE"))
        if rtype == "Bundle" and resource.get("type") in {"transaction", "batch"}:
            raise fail(400, "bundle_to_bundle", kind=resource["type"])
        match_url = request.header("If-None-Exist") or None
        existing = self._single_match(request, rtype, match_url, "CREATE", "0958") if match_url else None
        if match_url and existing:
            return self._write_response(request, self._matched(request, rtype, existing, match_url))
        self._resolve_references(request, resource, {})
        outcome = self._create(request, rtype, resource, self._new_id(), match_url)
        self._verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def update(self, request: Request, rtype: str, rid: str) -> Response:
        resource = self._validated(rtype, self._parse_body(request, "UPDATE"))
        if not resource.get("id"):
            raise fail(400, "no_body_id")
        if resource["id"] != rid:
            raise fail(400, "id_mismatch", body_id=resource["id"], url_id=rid)
        self._resolve_references(request, resource, {})
        outcome = self._put(request, rtype, rid, resource, if_match=request.header("If-Match") or None)
        self._verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def conditional_update(self, request: Request, rtype: str) -> Response:
        """PUT Type?query: the body's id is ignored; the one match is updated, or a new resource created."""
        if not request.raw_query:
            raise fail(400, "no_url_id")
        resource = self._validated(rtype, self._parse_body(request, "UPDATE"))
        match_url = f"{rtype}?{request.raw_query}"
        rid, server_assigned = self._conditional_update_target(request, rtype, match_url)
        self._resolve_references(request, resource, {})
        outcome = self._put(request, rtype, rid, resource, match_url=match_url, server_assigned=server_assigned)
        self._verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def delete(self, request: Request, rtype: str, rid: str) -> Response:
        outcome = self._delete(request, rtype, rid, if_match=request.header("If-Match") or None)
        self._verify_integrity(request, [outcome])
        return fhir_json(200, self._success_outcome(outcome))

    def conditional_delete(self, request: Request, rtype: str) -> Response:
        """DELETE Type?query deletes every match (conditionalDelete: multiple)."""
        if not request.raw_query:
            raise fail(400, "no_delete_target")
        match_url = f"{rtype}?{request.raw_query}"
        outcomes = [self._delete(request, rtype, rid) for rid in self._match(request, rtype, match_url)]
        self._verify_integrity(request, outcomes)
        code = "SUCCESSFUL_DELETE" if outcomes else "SUCCESSFUL_DELETE_NOT_FOUND"
        return fhir_json(
            200, self._outcome_body(code, self._diagnostics(code, request, vless=match_url, count=len(outcomes)))
        )

    # --- transaction and batch (A.11) -----------------------------------------------------------------
    def transaction(self, request: Request) -> Response:
        bundle = self._validated("Bundle", self._parse_body(request, "TRANSACTION"))
        kind = bundle.get("type")
        if kind not in {"transaction", "batch"}:
            raise fail(400, "bundle_type", kind=kind)
        raw_entries = bundle.get("entry") or []
        # Unlike single writes, a transaction answers without resources unless asked for them.
        representation = "return=representation" in request.header("Prefer").lower().replace(" ", "")
        if kind == "batch":
            answers = self._run_batch(request, raw_entries, representation)
        else:
            try:
                entries = [self._parse_entry(request, index, raw) for index, raw in enumerate(raw_entries)]
                answers = self._run_transaction(request, entries, representation)
            except FhirError as failure:
                if failure.status in {401, 403} or failure.outcome["issue"][0].get("code") != "processing":
                    raise  # auth refusals and validation issues go back as they are
                raise fail(failure.status, "in_transaction", diagnostics=failure.diagnostics) from None
        bundle = self._bundle(f"{kind}-response", self._base(request), answers)
        return fhir_json(200, bundle)

    def _run_transaction(self, request: Request, entries: list[Entry], representation: bool) -> list[dict]:
        """All or nothing: the request's SQLite transaction rolls every write back if anything raises."""
        ids: dict[str, str] = {}  # fullUrl -> Type/id, for urn:uuid references
        for entry in entries:
            self._resolve_target(request, entry)
            if entry.full_url and entry.id:
                ids[entry.full_url] = f"{entry.type}/{entry.id}"
        for entry in entries:
            if entry.resource is not None:
                self._resolve_references(request, entry.resource, ids)
        answers: list[dict] = [{} for _ in entries]
        outcomes = []
        for method in ("DELETE", "POST", "PUT"):  # the order HAPI (and the spec) processes entries in
            for entry in (e for e in entries if e.method == method):
                outcome = self._write_entry(request, entry)
                outcomes.append(outcome)
                answers[entry.index] = self._entry_answer(outcome, representation)
        self._verify_integrity(request, outcomes)
        for entry in (e for e in entries if e.method == "GET"):
            answers[entry.index] = self._read_entry(request, entry)
        return answers

    def _run_batch(self, request: Request, raw_entries: list, representation: bool) -> list[dict]:
        """Each entry on its own: a failing entry answers its error and the others still happen."""
        answers = []
        for index, raw in enumerate(raw_entries):
            try:
                with self.store.savepoint():
                    entry = self._parse_entry(request, index, raw)
                    self._resolve_target(request, entry)
                    if entry.method == "GET":
                        answers.append(self._read_entry(request, entry))
                        continue
                    if entry.resource is not None:
                        self._resolve_references(request, entry.resource, {})
                    outcome = self._write_entry(request, entry)
                    self._verify_integrity(request, [outcome])
                    answers.append(self._entry_answer(outcome, representation))
            except FhirError as failure:
                answers.append({"response": {"status": str(failure.status), "outcome": failure.outcome}})
        return answers

    def _parse_entry(self, request: Request, index: int, raw: Any) -> Entry:
        entry_request = raw.get("request") if isinstance(raw, dict) else None
        if not isinstance(entry_request, dict) or not entry_request.get("method") or not entry_request.get("url"):
            raise fail(400, "bad_entry", index=index, why="request.method and request.url are required")
        method = entry_request["method"].upper()
        url = entry_request["url"].removeprefix(self._base(request) + "/").lstrip("/")
        path, _, query = url.partition("?")
        rtype, _, rest = path.partition("/")
        rid = rest.split("/")[0] or None
        self._known_type(rtype)
        resource = raw.get("resource")
        if method in {"POST", "PUT"}:
            if not isinstance(resource, dict):
                raise fail(400, "bad_entry", index=index, why=f"{method} {url} has no resource")
            resource = self._validated(rtype, resource)
            if rid:
                resource["id"] = rid
        elif method not in {"GET", "DELETE"}:
            raise fail(405, "bad_entry", index=index, why=f"method {method} is not supported")
        if method == "PUT" and not rid and not query:
            raise fail(400, "no_url_id")
        if method == "DELETE" and not rid:
            raise fail(
                400, "bad_entry", index=index, why="conditional DELETE in a bundle is not supported by the emulator"
            )
        match_url = entry_request.get("ifNoneExist") if method == "POST" else (f"{rtype}?{query}" if query else None)
        if_match = entry_request.get("ifMatch")
        return Entry(index, method, url, rtype, rid, match_url, resource, raw.get("fullUrl"), if_match)

    def _resolve_target(self, request: Request, entry: Entry) -> None:
        """Settle which resource a write entry touches before anything is written, so urn:uuid references
        can point at it: the existing resource when a conditional create matches, else a new id."""
        self._require(request, entry.type, entry.permission)
        if entry.method == "POST":
            existing = (
                self._single_match(request, entry.type, entry.match_url, "CREATE", "0958") if entry.match_url else None
            )
            entry.existing, entry.id = existing is not None, existing or self._new_id()
        elif entry.method == "PUT" and entry.id is None:
            entry.id, entry.server_assigned = self._conditional_update_target(
                request, entry.type, entry.match_url or ""
            )

    def _write_entry(self, request: Request, entry: Entry) -> Outcome:
        assert entry.id is not None  # settled by _resolve_target
        if entry.method == "DELETE":
            return self._delete(request, entry.type, entry.id, entry.if_match)
        if entry.method == "POST":
            if entry.existing:
                return self._matched(request, entry.type, entry.id, entry.match_url or "")
            return self._create(request, entry.type, entry.resource or {}, entry.id, entry.match_url)
        return self._put(
            request,
            entry.type,
            entry.id,
            entry.resource or {},
            if_match=entry.if_match,
            match_url=entry.match_url,
            server_assigned=entry.server_assigned,
        )

    def _read_entry(self, request: Request, entry: Entry) -> dict:
        """A GET entry runs through the ordinary routes, as if it were a request of its own."""
        path, _, query = entry.url.partition("?")
        sub = Request("GET", f"{self.base_path}/{path}", query, request.headers, b"", request.origin)
        try:
            route, params = self.router.resolve("GET", sub.path)
        except NoRoute:
            raise fail(400, "bad_entry", index=entry.index, why=f"GET {entry.url} is not supported") from None
        response = route.handler(sub, **params)
        return {"resource": json.loads(response.body), "response": {"status": status_line(200)}}

    def _entry_answer(self, outcome: Outcome, representation: bool) -> dict:
        """A transaction-response entry: relative location, bare etag (A.11)."""
        response: dict[str, Any] = {"status": status_line(outcome.status)}
        if outcome.resource is not None:
            response["location"] = f"{outcome.type}/{outcome.id}/_history/{outcome.version}"
            response["etag"] = str(outcome.version)
            response["lastModified"] = instant(outcome.updated)
        elif outcome.code == "SUCCESSFUL_DELETE":
            response["status"] = status_line(204)
        response["outcome"] = self._success_outcome(outcome)
        if representation and outcome.resource is not None:
            return {"resource": outcome.resource, "response": response}
        return {"response": response}

    # --- writes: the storage operations they share -------------------------------------------------------
    def _create(self, request: Request, rtype: str, resource: dict, rid: str, match_url: str | None) -> Outcome:
        code = "SUCCESSFUL_CREATE_NO_CONDITIONAL_MATCH" if match_url else "SUCCESSFUL_CREATE"
        return self._outcome(201, code, self._store(rtype, rid, resource, version=1), request, match_url)

    def _matched(self, request: Request, rtype: str, rid: str, match_url: str) -> Outcome:
        """A conditional create that found its resource: 200, nothing written, the existing version."""
        head = self._head(rtype, rid)
        assert head is not None
        return self._outcome(200, "SUCCESSFUL_CREATE_WITH_CONDITIONAL_MATCH", head, request, match_url, changed=False)

    def _put(
        self,
        request: Request,
        rtype: str,
        rid: str,
        resource: dict,
        *,
        if_match: str | None = None,
        match_url: str | None = None,
        server_assigned: bool = False,
    ) -> Outcome:
        """Update, update-as-create (client id) or undelete; a PUT of unchanged content writes nothing."""
        head = self._head(rtype, rid)
        if if_match is not None:
            wanted = parse_etag(if_match)
            if head is None or wanted != head.version:
                raise fail(409, "update_conflict", ref=f"{rtype}/{rid}", version=wanted)
        conditional = match_url is not None
        if head is None:
            if not server_assigned:
                self._check_client_id(rid)
            code = "SUCCESSFUL_UPDATE_NO_CONDITIONAL_MATCH" if conditional else "SUCCESSFUL_UPDATE_AS_CREATE"
            return self._outcome(201, code, self._store(rtype, rid, resource, version=1), request, match_url)
        if head.deleted:
            stored = self._store(rtype, rid, resource, head.version + 1)
            return self._outcome(201, "SUCCESSFUL_UPDATE_AS_CREATE", stored, request, match_url)
        if head.body is not None and content_of(head.body) == content_of(resource):
            code = (
                "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH_NO_CHANGE" if conditional else "SUCCESSFUL_UPDATE_NO_CHANGE"
            )
            return self._outcome(200, code, head, request, match_url, changed=False)
        code = "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH" if conditional else "SUCCESSFUL_UPDATE"
        return self._outcome(200, code, self._store(rtype, rid, resource, head.version + 1), request, match_url)

    def _delete(self, request: Request, rtype: str, rid: str, if_match: str | None = None) -> Outcome:
        """Deleting writes a new, empty version; deleting nothing or something deleted is still a 200."""
        head = self._head(rtype, rid)
        if head is None:
            missing = Head(rtype, rid, 0, True, self.clock.now(), None)
            return self._outcome(200, "SUCCESSFUL_DELETE_NOT_FOUND", missing, request, changed=False)
        if if_match is not None and parse_etag(if_match) != head.version:
            raise fail(409, "delete_conflict", ref=f"{rtype}/{rid}", version=parse_etag(if_match))
        if head.deleted:
            return self._outcome(200, "SUCCESSFUL_DELETE_ALREADY_DELETED", head, request, changed=False)
        return self._outcome(200, "SUCCESSFUL_DELETE", self._store(rtype, rid, None, head.version + 1), request)

    def _conditional_update_target(self, request: Request, rtype: str, match_url: str) -> tuple[str, bool]:
        """(id to write, whether the server assigned it): the one match, or a new server id when none."""
        existing = self._single_match(request, rtype, match_url, "UPDATE", "0988")
        return (existing, False) if existing else (self._new_id(), True)

    def _store(self, rtype: str, rid: str, resource: dict | None, version: int) -> Head:
        """Write version `version` (a deletion when `resource` is None) and re-index the resource."""
        now = self.clock.now()
        body = None
        if resource is not None:
            meta = {**(resource.get("meta") or {}), "versionId": str(version), "lastUpdated": instant(now)}
            rest = {k: v for k, v in resource.items() if k not in {"resourceType", "id", "meta"}}
            body = {"resourceType": rtype, "id": rid, "meta": meta, **rest}
        text, deleted = (json.dumps(body, ensure_ascii=False) if body else None), int(body is None)
        self.store.execute(
            "INSERT INTO resource (type, id, version, deleted, updated, body) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, "
            "updated = excluded.updated, body = excluded.body",
            (rtype, rid, version, deleted, now, text),
        )
        self.store.execute(
            "INSERT INTO resource_version VALUES (?, ?, ?, ?, ?, ?)", (rtype, rid, version, deleted, now, text)
        )
        self.store.execute("DELETE FROM token_index WHERE type = ? AND id = ?", (rtype, rid))
        self.store.execute("DELETE FROM reference_index WHERE type = ? AND id = ?", (rtype, rid))
        if body is not None:
            self._index(rtype, rid, body)
        return Head(rtype, rid, version, bool(deleted), now, body)

    def _index(self, rtype: str, rid: str, body: dict) -> None:
        """Search rows for identifier, status and references; only live versions are indexed."""
        identifiers = body.get("identifier") or []
        for identifier in identifiers if isinstance(identifiers, list) else [identifiers]:
            if isinstance(identifier, dict) and identifier.get("value"):
                self.store.execute(
                    "INSERT INTO token_index VALUES (?, ?, 'identifier', ?, ?)",
                    (rtype, rid, identifier.get("system", ""), identifier["value"]),
                )
        if isinstance(body.get("status"), str):
            self.store.execute("INSERT INTO token_index VALUES (?, ?, 'status', '', ?)", (rtype, rid, body["status"]))
        for path, reference in walk_references(body, rtype):
            parts = reference["reference"].split("/")
            if len(parts) >= 2 and parts[0] in RESOURCE_TYPES:
                self.store.execute(
                    "INSERT INTO reference_index VALUES (?, ?, ?, ?, ?)", (rtype, rid, path, parts[0], parts[1])
                )

    # --- integrity (A.12, A.9) ----------------------------------------------------------------------------
    def _resolve_references(self, request: Request, resource: dict, ids: dict[str, str]) -> None:
        """Rewrite urn:uuid references of the same bundle, conditional references (`Type?query`) and
        absolute references to this server into `Type/id`."""
        base = self._base(request) + "/"
        for _path, reference in walk_references(resource, resource["resourceType"]):
            target = reference["reference"]
            if target in ids:
                reference["reference"] = ids[target]
            elif "?" in target and not target.startswith(("urn:", "#", "http:", "https:")):
                rtype = target.partition("?")[0]
                self._known_type(rtype)
                matches = self._match(request, rtype, target)
                if not matches:
                    raise fail(404, "reference_no_match", url=target)
                if len(matches) > 1:
                    raise fail(412, "reference_several_matches", url=target)
                reference["reference"] = f"{rtype}/{matches[0]}"
            elif target.startswith(base):
                reference["reference"] = target.removeprefix(base)

    def _verify_integrity(self, request: Request, outcomes: list[Outcome]) -> None:
        """After all writes of a request: each new reference has a live target of an allowed type, and
        nothing deleted is still referenced. Checking at the end lets a bundle refer forward."""
        if not self.settings["referential_integrity"]:
            return
        for outcome in (o for o in outcomes if o.changed):
            head = self._head(outcome.type, outcome.id)
            if head is None or head.body is None:
                blocker = self.store.row(
                    "SELECT type, id, path FROM reference_index WHERE target_type = ? AND target_id = ? LIMIT 1",
                    (outcome.type, outcome.id),
                )
                if blocker:
                    source = f"{blocker['type']}/{blocker['id']}"
                    raise fail(
                        409, "still_referenced", ref=f"{outcome.type}/{outcome.id}", source=source, path=blocker["path"]
                    )
                continue
            for path, reference in walk_references(head.body, head.type):
                target = self._local_reference(request, reference["reference"])
                if target is None:
                    continue
                ttype, tid = target
                if path in REFERENCE_TARGETS and ttype not in REFERENCE_TARGETS[path]:
                    raise fail(422, "wrong_target_type", path=path, rtype=ttype)
                found = self._head(ttype, tid)
                if found is None:
                    raise fail(400, "missing_target", ref=f"{ttype}/{tid}", path=path)
                if found.deleted:
                    raise fail(400, "deleted_target", ref=f"{ttype}/{tid}", path=path)

    def _local_reference(self, request: Request, reference: str) -> tuple[str, str] | None:
        """(type, id) of a reference to this server; None for contained, urn: and allowed external ones."""
        if reference.startswith(("#", "urn:")):
            return None
        if reference.startswith(("http:", "https:")):
            if reference.startswith(self._base(request) + "/"):
                reference = reference.removeprefix(self._base(request) + "/")
            elif self.settings["allow_external_references"]:
                return None
            else:
                raise fail(400, "external_reference", url=reference)
        parts = reference.split("/")
        return (parts[0], parts[1]) if len(parts) >= 2 and parts[0] in RESOURCE_TYPES and parts[1] else None

    # --- request bodies -------------------------------------------------------------------------------
    def _parse_body(self, request: Request, operation: str) -> dict:
        content_type = request.header("Content-Type")
        if not content_type:
            raise fail(400, "no_content_type", operation=operation)
        if content_type.split(";")[0].strip().lower() not in JSON_MEDIA_TYPES:
            raise fail(400, "bad_content_type", content_type=content_type, operation=operation)
        try:
            data = request.json()
        except ValueError as error:
            raise fail(400, "bad_json", error=error) from None
        if not isinstance(data, dict):
            raise fail(400, "bad_json", error="the content is not a JSON object")
        return data

    def _validated(self, rtype: str, resource: dict) -> dict:
        """What HAPI's parser refuses (400), then the A.16 required elements when validation is on (422)."""
        self._known_type(rtype)
        found = resource.get("resourceType")
        if not found:
            raise fail(400, "no_resource_type")
        if found != rtype:
            raise fail(400, "wrong_resource_type", expected=rtype, found=found)
        for (binding_type, element), (value_set, codes) in CODE_BINDINGS.items():
            value = resource.get(element)
            if binding_type == rtype and value is not None and value not in codes:
                raise fail(400, "bad_code", element=element, value=value, value_set=value_set)
        if self.settings["validate"]:
            issues = [
                {
                    "severity": "error",
                    "code": "required",
                    "diagnostics": f"{location}: minimum required = 1, but only found 0",
                    "location": [location],
                    "expression": [location],
                }
                for path in REQUIRED_ELEMENTS.get(rtype, ())
                for location in missing_required(resource, path, rtype)
            ]
            if issues:
                raise FhirError(422, issues[0]["diagnostics"], {"resourceType": "OperationOutcome", "issue": issues})
        return resource

    # --- small shared pieces -----------------------------------------------------------------------------
    def _base(self, request: Request) -> str:
        return request.origin + self.base_path

    def _bundle(
        self, kind: str, self_url: str, entries: list[dict], total: int | None = None, bundle_id: str = ""
    ) -> dict:
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": bundle_id or str(uuid.uuid4()),
            "meta": {"lastUpdated": instant(self.clock.now())},
            "type": kind,
        }
        if total is not None:
            bundle["total"] = total
        bundle["link"] = [{"relation": "self", "url": self_url}]
        if entries:
            bundle["entry"] = entries
        return bundle

    def _known_type(self, rtype: str) -> None:
        if rtype not in RESOURCE_TYPES:
            raise fail(404, "unknown_type", rtype=rtype, known=sorted(RESOURCE_TYPES))

    def _head(self, rtype: str, rid: str) -> Head | None:
        row = self.store.row("SELECT * FROM resource WHERE type = ? AND id = ?", (rtype, rid))
        if row is None:
            return None
        body = json.loads(row["body"]) if row["body"] else None
        return Head(rtype, rid, row["version"], bool(row["deleted"]), row["updated"], body)

    def _live_head(self, rtype: str, rid: str) -> Head:
        """The current version, or 404 (never existed) / 410 (deleted): clients must tell these apart."""
        head = self._head(rtype, rid)
        if head is None:
            raise fail(404, "not_known", ref=f"{rtype}/{rid}")
        if head.deleted:
            raise fail(410, "deleted", when=instant(head.updated))
        return head

    def _new_id(self) -> str:
        """Numeric ids from one sequence shared by all types, as the JPA server assigns them."""
        while True:
            candidate = str(self.store.execute("INSERT INTO server_id DEFAULT VALUES").lastrowid)
            if self.store.row("SELECT 1 FROM resource WHERE id = ?", (candidate,)) is None:
                return candidate

    def _check_client_id(self, rid: str) -> None:
        """May a client create a resource under this id? (client_id_strategy, A.6)"""
        if not FHIR_ID.fullmatch(rid):
            raise fail(400, "invalid_id", rid=rid)
        strategy = self.settings["client_id_strategy"]
        if strategy == "NOT_ALLOWED":
            raise fail(404, "client_ids_off", rid=rid)
        if strategy == "ALPHANUMERIC" and rid.isdigit():
            raise fail(400, "numeric_client_id", rid=rid)

    def _int_param(self, request: Request, name: str, default: int) -> int:
        value = request.param(name)
        if value is None:
            return default
        if not value.isdigit():
            raise fail(400, "bad_number", name=name, value=value)
        return int(value)

    def _version_headers(self, version: int, updated: float) -> dict[str, str]:
        return {"ETag": f'W/"{version}"', "Last-Modified": formatdate(updated, usegmt=True)}

    def _outcome(
        self, status: int, code: str, head: Head, request: Request, match_url: str | None = None, changed: bool = True
    ) -> Outcome:
        diagnostics = self._diagnostics(
            code,
            request,
            ref=f"{head.type}/{head.id}/_history/{head.version}",
            vless=f"{head.type}/{head.id}",
            url=match_url or "",
            count=1,
        )
        return Outcome(status, code, diagnostics, head.type, head.id, head.version, head.updated, head.body, changed)

    def _diagnostics(self, code: str, request: Request, **values: Any) -> str:
        return f"{STORAGE_CODES[code][1].format_map(values)} Took {request.took_ms()}ms."

    def _outcome_body(self, code: str, diagnostics: str) -> dict:
        coding = {"system": STORAGE_CODE_SYSTEM, "code": code, "display": STORAGE_CODES[code][0]}
        return operation_outcome("information", "informational", diagnostics, details={"coding": [coding]})

    def _success_outcome(self, outcome: Outcome) -> dict:
        return self._outcome_body(outcome.code, outcome.diagnostics)

    def _write_response(self, request: Request, outcome: Outcome) -> Response:
        """Headers of A.1 (Location on POST only) and the body the Prefer header asks for (A.3)."""
        location = f"{self._base(request)}/{outcome.type}/{outcome.id}/_history/{outcome.version}"
        headers = {"Content-Location": location, **self._version_headers(outcome.version, outcome.updated)}
        if request.method == "POST":
            headers["Location"] = location
        wanted = prefer_return(request)
        if wanted == "minimal":
            return Response(outcome.status, b"", headers)
        if wanted == "operationoutcome":
            return fhir_json(outcome.status, self._success_outcome(outcome), headers)
        return fhir_json(outcome.status, outcome.resource, headers)


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("HAPI FHIR R4 JPA server stand-in (see standins/README.md).", default_port=8080)
    option = parser.add_argument
    option("--base-path", default="/fhir", help="FHIR base path (default /fhir)")
    option("--auth", action="store_true", help="require OAuth2 bearer tokens (stock HAPI has no auth)")
    env = os.environ.get
    option(
        "--client-id", default=env("HAPI_EMULATOR_CLIENT_ID", ""), help="OAuth2 client (env HAPI_EMULATOR_CLIENT_ID)"
    )
    option(
        "--client-secret",
        default=env("HAPI_EMULATOR_CLIENT_SECRET", ""),
        help="OAuth2 client secret (env HAPI_EMULATOR_CLIENT_SECRET)",
    )
    option("--token-ttl", type=int, default=300, help="access token lifetime in seconds (default 300)")
    option("--validate", action="store_true", help="answer 422 for resources missing A.16 required elements")
    option("--no-referential-integrity", action="store_true", help="accept dangling references (A.12)")
    option("--allow-external-references", action="store_true", help="accept absolute references to other servers")
    option("--client-id-strategy", default="ALPHANUMERIC", choices=["ALPHANUMERIC", "ANY", "NOT_ALLOWED"])
    option("--page-size", type=int, default=20, help="searchset page size without _count (default 20)")
    option("--search-cache-ms", type=int, default=60_000, help="identical searches reuse results (0 = off)")
    option("--search-retain-s", type=int, default=3600, help="how long _getpages links stay valid (default 3600)")
    args = parser.parse_args(argv)
    if args.auth and not (args.client_id and args.client_secret):
        parser.error("--auth needs --client-id and --client-secret (or their environment variables)")
    settings = {
        "auth": args.auth,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "token_ttl_s": args.token_ttl,
        "validate": args.validate,
        "referential_integrity": not args.no_referential_integrity,
        "allow_external_references": args.allow_external_references,
        "client_id_strategy": args.client_id_strategy,
        "default_page_size": args.page_size,
        "search_cache_ms": args.search_cache_ms,
        "search_retain_s": args.search_retain_s,
    }
    serve(HapiEmulator(Store(args.data, SCHEMA), settings, args.base_path), args.host, args.port)


if __name__ == "__main__":
    main()
