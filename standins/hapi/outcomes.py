"""Answers in HAPI's own words: OperationOutcomes, the HAPI-nnnn diagnostics clients match on, the storage
response codes of successful writes, and the headers of a version."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from ..common.messages import HttpError, Response, json_response

FHIR_JSON = "application/fhir+json;charset=utf-8"
STORAGE_CODE_SYSTEM = "https://hapifhir.io/fhir/CodeSystem/hapi-fhir-storage-response-code"

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
    "bundle_too_large": "HAPI-0528: Transaction Bundle Too large.  Transaction bundle contains {count} which "
    "exceedes the maximum permitted transaction bundle size of {limit}",
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


def version_headers(version: int, updated: float) -> dict[str, str]:
    return {"ETag": f'W/"{version}"', "Last-Modified": formatdate(updated, usegmt=True)}
