"""Transaction and batch Bundles (A.11): urn:uuid rewriting, conditional entries, DELETE-POST-PUT-GET order,
all or nothing for a transaction, an answer per entry for a batch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..common.messages import Request, Response
from ..common.routing import NoRoute, Router
from ..common.state import Clock, Settings
from ..common.store import Store
from .gateway import Gateway
from .inputs import parse_body
from .outcomes import FhirError, fail, fhir_json, instant, status_line
from .part import Part
from .r4 import known_type
from .search import Search
from .versions import Versions
from .writes import Outcome, Writes


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


class Bundles(Part):
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        base_path: str,
        parts: tuple[Versions, Gateway, Search, Writes],
        router: Router,
    ):
        super().__init__(store, clock, settings, base_path)
        self.versions, self.gateway, self.search, self.writes = parts
        self.router = router  # a GET entry runs through the server's own routes

    def transaction(self, request: Request) -> Response:
        bundle = self.writes.validated("Bundle", parse_body(request, "TRANSACTION"))
        kind = bundle.get("type")
        if kind not in {"transaction", "batch"}:
            raise fail(400, "bundle_type", kind=kind)
        raw_entries = bundle.get("entry") or []
        limit = self.settings["max_bundle_size"]
        if limit and len(raw_entries) > limit:  # checked before any entry is looked at (PayloadTooLargeException)
            raise fail(413, "bundle_too_large", count=len(raw_entries), limit=limit)
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
        bundle = self.bundle(f"{kind}-response", self.base(request), answers)
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
                self.writes.resolve_references(request, entry.resource, ids)
        answers: list[dict] = [{} for _ in entries]
        outcomes = []
        for method in ("DELETE", "POST", "PUT"):  # the order HAPI (and the spec) processes entries in
            for entry in (e for e in entries if e.method == method):
                outcome = self._write_entry(request, entry)
                outcomes.append(outcome)
                answers[entry.index] = self._entry_answer(outcome, representation)
        self.writes.verify_integrity(request, outcomes)
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
                        self.writes.resolve_references(request, entry.resource, {})
                    outcome = self._write_entry(request, entry)
                    self.writes.verify_integrity(request, [outcome])
                    answers.append(self._entry_answer(outcome, representation))
            except FhirError as failure:
                answers.append({"response": {"status": str(failure.status), "outcome": failure.outcome}})
        return answers

    def _parse_entry(self, request: Request, index: int, raw: Any) -> Entry:
        entry_request = raw.get("request") if isinstance(raw, dict) else None
        if not isinstance(entry_request, dict) or not entry_request.get("method") or not entry_request.get("url"):
            raise fail(400, "bad_entry", index=index, why="request.method and request.url are required")
        method = entry_request["method"].upper()
        url = entry_request["url"].removeprefix(self.base(request) + "/").lstrip("/")
        path, _, query = url.partition("?")
        rtype, _, rest = path.partition("/")
        rid = rest.split("/")[0] or None
        known_type(rtype)
        resource = raw.get("resource")
        if method in {"POST", "PUT"}:
            if not isinstance(resource, dict):
                raise fail(400, "bad_entry", index=index, why=f"{method} {url} has no resource")
            resource = self.writes.validated(rtype, resource)
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
        self.gateway.require(request, entry.type, entry.permission)
        if entry.method == "POST":
            existing = (
                self.search.single_match(request, entry.type, entry.match_url, "CREATE", "0958")
                if entry.match_url
                else None
            )
            entry.existing, entry.id = existing is not None, existing or self.versions.new_id()
        elif entry.method == "PUT" and entry.id is None:
            entry.id, entry.server_assigned = self.writes.conditional_update_target(
                request, entry.type, entry.match_url or ""
            )

    def _write_entry(self, request: Request, entry: Entry) -> Outcome:
        assert entry.id is not None  # settled by _resolve_target
        if entry.method == "DELETE":
            return self.writes.remove(request, entry.type, entry.id, entry.if_match)
        if entry.method == "POST":
            if entry.existing:
                return self.writes.matched(request, entry.type, entry.id, entry.match_url or "")
            return self.writes.create_new(request, entry.type, entry.resource or {}, entry.id, entry.match_url)
        return self.writes.put(
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
        response["outcome"] = self.writes.success_outcome(outcome)
        if representation and outcome.resource is not None:
            return {"resource": outcome.resource, "response": response}
        return {"response": response}
