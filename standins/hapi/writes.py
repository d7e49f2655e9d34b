"""Writes (A.2-A.9, A.12, A.16): create, update, conditional update, delete and conditional delete, the
storage operations transactions share with them, validation, reference resolution and integrity checks,
and the answers of a write (headers of A.1, Prefer of A.3, storage response codes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..common.messages import Request, Response
from ..common.state import Clock, Settings
from ..common.store import Store
from .inputs import parse_body, parse_etag, prefer_return
from .outcomes import STORAGE_CODE_SYSTEM, STORAGE_CODES, FhirError, fail, fhir_json, operation_outcome, version_headers
from .part import Part
from .r4 import (
    CODE_BINDINGS,
    REFERENCE_TARGETS,
    REQUIRED_ELEMENTS,
    content_of,
    known_type,
    missing_required,
    walk_references,
)
from .search import Search
from .versions import Head, Versions


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


class Writes(Part):
    def __init__(
        self, store: Store, clock: Clock, settings: Settings, base_path: str, versions: Versions, search: Search
    ):
        super().__init__(store, clock, settings, base_path)
        self.versions, self.search = versions, search

    def create(self, request: Request, rtype: str) -> Response:
        resource = self.validated(rtype, parse_body(request, "CREATE"))
        if rtype == "Bundle" and resource.get("type") in {"transaction", "batch"}:
            raise fail(400, "bundle_to_bundle", kind=resource["type"])
        match_url = request.header("If-None-Exist") or None
        existing = self.search.single_match(request, rtype, match_url, "CREATE", "0958") if match_url else None
        if match_url and existing:
            return self._write_response(request, self.matched(request, rtype, existing, match_url))
        self.resolve_references(request, resource, {})
        outcome = self.create_new(request, rtype, resource, self.versions.new_id(), match_url)
        self.verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def update(self, request: Request, rtype: str, rid: str) -> Response:
        resource = self.validated(rtype, parse_body(request, "UPDATE"))
        if not resource.get("id"):
            raise fail(400, "no_body_id")
        if resource["id"] != rid:
            raise fail(400, "id_mismatch", body_id=resource["id"], url_id=rid)
        self.resolve_references(request, resource, {})
        outcome = self.put(request, rtype, rid, resource, if_match=request.header("If-Match") or None)
        self.verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def conditional_update(self, request: Request, rtype: str) -> Response:
        """PUT Type?query: the body's id is ignored; the one match is updated, or a new resource created."""
        if not request.raw_query:
            raise fail(400, "no_url_id")
        resource = self.validated(rtype, parse_body(request, "UPDATE"))
        match_url = f"{rtype}?{request.raw_query}"
        rid, server_assigned = self.conditional_update_target(request, rtype, match_url)
        self.resolve_references(request, resource, {})
        outcome = self.put(request, rtype, rid, resource, match_url=match_url, server_assigned=server_assigned)
        self.verify_integrity(request, [outcome])
        return self._write_response(request, outcome)

    def delete(self, request: Request, rtype: str, rid: str) -> Response:
        outcome = self.remove(request, rtype, rid, if_match=request.header("If-Match") or None)
        self.verify_integrity(request, [outcome])
        return fhir_json(200, self.success_outcome(outcome))

    def conditional_delete(self, request: Request, rtype: str) -> Response:
        """DELETE Type?query deletes every match (conditionalDelete: multiple)."""
        if not request.raw_query:
            raise fail(400, "no_delete_target")
        match_url = f"{rtype}?{request.raw_query}"
        outcomes = [self.remove(request, rtype, rid) for rid in self.search.match(request, rtype, match_url)]
        self.verify_integrity(request, outcomes)
        code = "SUCCESSFUL_DELETE" if outcomes else "SUCCESSFUL_DELETE_NOT_FOUND"
        return fhir_json(
            200, self._outcome_body(code, self._diagnostics(code, request, vless=match_url, count=len(outcomes)))
        )

    def create_new(self, request: Request, rtype: str, resource: dict, rid: str, match_url: str | None) -> Outcome:
        code = "SUCCESSFUL_CREATE_NO_CONDITIONAL_MATCH" if match_url else "SUCCESSFUL_CREATE"
        return self._outcome(201, code, self.versions.write(rtype, rid, resource, version=1), request, match_url)

    def matched(self, request: Request, rtype: str, rid: str, match_url: str) -> Outcome:
        """A conditional create that found its resource: 200, nothing written, the existing version."""
        head = self.versions.head(rtype, rid)
        assert head is not None
        return self._outcome(200, "SUCCESSFUL_CREATE_WITH_CONDITIONAL_MATCH", head, request, match_url, changed=False)

    def put(
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
        head = self.versions.head(rtype, rid)
        if if_match is not None:
            wanted = parse_etag(if_match)
            if head is None or wanted != head.version:
                raise fail(409, "update_conflict", ref=f"{rtype}/{rid}", version=wanted)
        conditional = match_url is not None
        if head is None:
            if not server_assigned:
                self.versions.check_client_id(rid)
            code = "SUCCESSFUL_UPDATE_NO_CONDITIONAL_MATCH" if conditional else "SUCCESSFUL_UPDATE_AS_CREATE"
            return self._outcome(201, code, self.versions.write(rtype, rid, resource, version=1), request, match_url)
        if head.deleted:
            stored = self.versions.write(rtype, rid, resource, head.version + 1)
            return self._outcome(201, "SUCCESSFUL_UPDATE_AS_CREATE", stored, request, match_url)
        if head.body is not None and content_of(head.body) == content_of(resource):
            code = (
                "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH_NO_CHANGE" if conditional else "SUCCESSFUL_UPDATE_NO_CHANGE"
            )
            return self._outcome(200, code, head, request, match_url, changed=False)
        code = "SUCCESSFUL_UPDATE_WITH_CONDITIONAL_MATCH" if conditional else "SUCCESSFUL_UPDATE"
        return self._outcome(200, code, self.versions.write(rtype, rid, resource, head.version + 1), request, match_url)

    def remove(self, request: Request, rtype: str, rid: str, if_match: str | None = None) -> Outcome:
        """Deleting writes a new, empty version; deleting nothing or something deleted is still a 200."""
        head = self.versions.head(rtype, rid)
        if head is None:
            missing = Head(rtype, rid, 0, True, self.clock.now(), None)
            return self._outcome(200, "SUCCESSFUL_DELETE_NOT_FOUND", missing, request, changed=False)
        if if_match is not None and parse_etag(if_match) != head.version:
            raise fail(409, "delete_conflict", ref=f"{rtype}/{rid}", version=parse_etag(if_match))
        if head.deleted:
            return self._outcome(200, "SUCCESSFUL_DELETE_ALREADY_DELETED", head, request, changed=False)
        return self._outcome(200, "SUCCESSFUL_DELETE", self.versions.write(rtype, rid, None, head.version + 1), request)

    def conditional_update_target(self, request: Request, rtype: str, match_url: str) -> tuple[str, bool]:
        """(id to write, whether the server assigned it): the one match, or a new server id when none."""
        existing = self.search.single_match(request, rtype, match_url, "UPDATE", "0988")
        return (existing, False) if existing else (self.versions.new_id(), True)

    def resolve_references(self, request: Request, resource: dict, ids: dict[str, str]) -> None:
        """Rewrite urn:uuid references of the same bundle, conditional references (`Type?query`) and
        absolute references to this server into `Type/id`."""
        base = self.base(request) + "/"
        for _path, reference in walk_references(resource, resource["resourceType"]):
            target = reference["reference"]
            if target in ids:
                reference["reference"] = ids[target]
            elif "?" in target and not target.startswith(("urn:", "#", "http:", "https:")):
                rtype = target.partition("?")[0]
                known_type(rtype)
                matches = self.search.match(request, rtype, target)
                if not matches:
                    raise fail(404, "reference_no_match", url=target)
                if len(matches) > 1:
                    raise fail(412, "reference_several_matches", url=target)
                reference["reference"] = f"{rtype}/{matches[0]}"
            elif target.startswith(base):
                reference["reference"] = target.removeprefix(base)

    def verify_integrity(self, request: Request, outcomes: list[Outcome]) -> None:
        """After all writes of a request: each new reference has a live target of an allowed type, and
        nothing deleted is still referenced. Checking at the end lets a bundle refer forward."""
        if not self.settings["referential_integrity"]:
            return
        for outcome in (o for o in outcomes if o.changed):
            head = self.versions.head(outcome.type, outcome.id)
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
                target = self.search.local_reference(request, reference["reference"])
                if target is None:
                    continue
                ttype, tid = target
                if path in REFERENCE_TARGETS and ttype not in REFERENCE_TARGETS[path]:
                    raise fail(422, "wrong_target_type", path=path, rtype=ttype)
                found = self.versions.head(ttype, tid)
                if found is None:
                    raise fail(400, "missing_target", ref=f"{ttype}/{tid}", path=path)
                if found.deleted:
                    raise fail(400, "deleted_target", ref=f"{ttype}/{tid}", path=path)

    def validated(self, rtype: str, resource: dict) -> dict:
        """What HAPI's parser refuses (400), then the A.16 required elements when validation is on (422)."""
        known_type(rtype)
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

    def success_outcome(self, outcome: Outcome) -> dict:
        return self._outcome_body(outcome.code, outcome.diagnostics)

    def _write_response(self, request: Request, outcome: Outcome) -> Response:
        """Headers of A.1 (Location on POST only) and the body the Prefer header asks for (A.3)."""
        location = f"{self.base(request)}/{outcome.type}/{outcome.id}/_history/{outcome.version}"
        headers = {"Content-Location": location, **version_headers(outcome.version, outcome.updated)}
        if request.method == "POST":
            headers["Location"] = location
        wanted = prefer_return(request)
        if wanted == "minimal":
            return Response(outcome.status, b"", headers)
        if wanted == "operationoutcome":
            return fhir_json(outcome.status, self.success_outcome(outcome), headers)
        return fhir_json(outcome.status, outcome.resource, headers)
