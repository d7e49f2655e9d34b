"""Resources and their versions in SQLite (A.2, A.5, A.6): the current head, every version, server ids from
one sequence, client ids by strategy, and the search index kept with each write."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .outcomes import fail, instant
from .part import Part
from .r4 import FHIR_ID, RESOURCE_TYPES, walk_references


@dataclass
class Head:
    """The current version of a resource."""

    type: str
    id: str
    version: int
    deleted: bool
    updated: float
    body: dict | None


class Versions(Part):
    def write(self, rtype: str, rid: str, resource: dict | None, version: int) -> Head:
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

    def head(self, rtype: str, rid: str) -> Head | None:
        row = self.store.row("SELECT * FROM resource WHERE type = ? AND id = ?", (rtype, rid))
        if row is None:
            return None
        body = json.loads(row["body"]) if row["body"] else None
        return Head(rtype, rid, row["version"], bool(row["deleted"]), row["updated"], body)

    def live_head(self, rtype: str, rid: str) -> Head:
        """The current version, or 404 (never existed) / 410 (deleted): clients must tell these apart."""
        head = self.head(rtype, rid)
        if head is None:
            raise fail(404, "not_known", ref=f"{rtype}/{rid}")
        if head.deleted:
            raise fail(410, "deleted", when=instant(head.updated))
        return head

    def new_id(self) -> str:
        """Numeric ids from one sequence shared by all types, as the JPA server assigns them."""
        while True:
            candidate = str(self.store.execute("INSERT INTO server_id DEFAULT VALUES").lastrowid)
            if self.store.row("SELECT 1 FROM resource WHERE id = ?", (candidate,)) is None:
                return candidate

    def check_client_id(self, rid: str) -> None:
        """May a client create a resource under this id? (client_id_strategy, A.6)"""
        if not FHIR_ID.fullmatch(rid):
            raise fail(400, "invalid_id", rid=rid)
        strategy = self.settings["client_id_strategy"]
        if strategy == "NOT_ALLOWED":
            raise fail(404, "client_ids_off", rid=rid)
        if strategy == "ALPHANUMERIC" and rid.isdigit():
            raise fail(400, "numeric_client_id", rid=rid)
