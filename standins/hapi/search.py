"""Search and paging (A.10): token, `_id` and reference parameters, stored searches with `_getpages` links and
HAPI's 60 s result cache, `_offset` paging, and the conditional URLs of conditional writes (A.4, A.8)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlencode

from ..common.messages import Request, Response
from ..common.state import Clock, Settings
from ..common.store import Store
from .gateway import Gateway
from .inputs import int_param, split_unescaped
from .outcomes import fail, fhir_json
from .part import Part
from .r4 import REFERENCE_PARAMS, RESOURCE_TYPES, RESULT_PARAMS, SEARCH_PARAMS
from .versions import Versions


class Search(Part):
    def __init__(
        self, store: Store, clock: Clock, settings: Settings, base_path: str, versions: Versions, gateway: Gateway
    ):
        super().__init__(store, clock, settings, base_path)
        self.versions, self.gateway = versions, gateway

    def search(self, request: Request, rtype: str) -> Response:
        pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k not in RESULT_PARAMS]
        count = int_param(request, "_count", self.settings["default_page_size"])
        if request.param("_offset") is not None:
            # Offset paging is a plain query, not a stored search: its links repeat the query with _offset.
            offset = int_param(request, "_offset", 0)
            ids = self.ids(request, rtype, pairs)
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
        self.gateway.require(request, found["type"], "s")
        offset = int_param(request, "_getpagesoffset", 0)
        count = int_param(request, "_count", self.settings["default_page_size"])
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
        ids = self.ids(request, rtype, pairs)
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
        base = self.base(request)

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
            head = self.versions.head(rtype, rid)
            if head and not head.deleted:
                entries.append({"fullUrl": f"{base}/{rtype}/{rid}", "resource": head.body, "search": {"mode": "match"}})
        bundle = self.bundle("searchset", request.url, entries, total=len(ids), bundle_id=search_id)
        bundle["link"] = links
        return fhir_json(200, bundle)

    def ids(self, request: Request, rtype: str, pairs: list[tuple[str, str]]) -> list[str]:
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
            target = self.local_reference(request, value)
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

    def match(self, request: Request, rtype: str, match_url: str) -> list[str]:
        """Ids matching a conditional URL (`identifier=s|v`, `Patient?identifier=…`, or absolute)."""
        url = match_url.strip().removeprefix(self.base(request) + "/")
        url_type, _, query = url.rpartition("?")
        if url_type and url_type != rtype:
            raise fail(400, "bad_match_url", url=match_url, why=f"it is not a {rtype} search")
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            raise fail(400, "bad_match_url", url=match_url, why="it has no search parameters")
        return self.ids(request, rtype, pairs)

    def single_match(self, request: Request, rtype: str, match_url: str, operation: str, code: str) -> str | None:
        """The one id matching `match_url`, None if none; 412 when several match (A.4, A.8)."""
        matches = self.match(request, rtype, match_url)
        if len(matches) > 1:
            raise fail(412, "several_matches", code=code, operation=operation, url=match_url, count=len(matches))
        return matches[0] if matches else None

    def local_reference(self, request: Request, reference: str) -> tuple[str, str] | None:
        """(type, id) of a reference to this server; None for contained, urn: and allowed external ones."""
        if reference.startswith(("#", "urn:")):
            return None
        if reference.startswith(("http:", "https:")):
            if reference.startswith(self.base(request) + "/"):
                reference = reference.removeprefix(self.base(request) + "/")
            elif self.settings["allow_external_references"]:
                return None
            else:
                raise fail(400, "external_reference", url=reference)
        parts = reference.split("/")
        return (parts[0], parts[1]) if len(parts) >= 2 and parts[0] in RESOURCE_TYPES and parts[1] else None
