"""Reads (A.5) and the CapabilityStatement (A.14): read, vread, instance history."""

from __future__ import annotations

import json
from typing import Any

from ..common.messages import Request, Response
from ..common.smart import smart_security
from ..common.state import Clock, Settings
from ..common.store import Store
from .outcomes import fail, fhir_json, instant, status_line, version_headers
from .part import Part
from .r4 import HAPI_VERSION, REFERENCE_PARAMS, RESOURCE_TYPES, SEARCH_PARAMS
from .versions import Versions


class Reads(Part):
    def __init__(self, store: Store, clock: Clock, settings: Settings, base_path: str, versions: Versions):
        super().__init__(store, clock, settings, base_path)
        self.versions = versions

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
            "implementation": {"description": "HAPI FHIR R4 Server", "url": self.base(request)},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+xml", "xml", "application/fhir+json", "json"],
            "rest": [rest],
        }
        return fhir_json(200, statement)

    def read(self, request: Request, rtype: str, rid: str) -> Response:
        head = self.versions.live_head(rtype, rid)
        return fhir_json(200, head.body, version_headers(head.version, head.updated))

    def vread(self, request: Request, rtype: str, rid: str, vid: str) -> Response:
        version = int(vid) if vid.isdigit() else -1
        row = self.store.row(
            "SELECT * FROM resource_version WHERE type = ? AND id = ? AND version = ?", (rtype, rid, version)
        )
        if row is None:
            if self.versions.head(rtype, rid) is None:
                raise fail(404, "not_known", ref=f"{rtype}/{rid}")
            raise fail(404, "bad_version", vid=vid, ref=f"{rtype}/{rid}")
        if row["deleted"]:
            raise fail(410, "deleted", when=instant(row["updated"]))
        return fhir_json(200, json.loads(row["body"]), version_headers(row["version"], row["updated"]))

    def history(self, request: Request, rtype: str, rid: str) -> Response:
        if self.versions.head(rtype, rid) is None:
            raise fail(404, "not_known", ref=f"{rtype}/{rid}")
        rows = self.store.rows(
            "SELECT * FROM resource_version WHERE type = ? AND id = ? ORDER BY version DESC", (rtype, rid)
        )
        entries = []
        for row in rows:
            method = "DELETE" if row["deleted"] else ("POST" if row["version"] == 1 else "PUT")
            entry: dict[str, Any] = {"fullUrl": f"{self.base(request)}/{rtype}/{rid}"}
            if row["body"]:
                entry["resource"] = json.loads(row["body"])
            entry["request"] = {"method": method, "url": rtype if method == "POST" else f"{rtype}/{rid}"}
            entry["response"] = {
                "status": status_line(201 if method == "POST" else 200),
                "etag": f'W/"{row["version"]}"',
                "lastModified": instant(row["updated"]),
            }
            entries.append(entry)
        return fhir_json(200, self.bundle("history", request.url, entries, total=len(entries)))
