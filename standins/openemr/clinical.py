"""OpenEMR's Standard API for what hangs off a patient (CONTRACTS.md B.6): encounters, vitals, medical
problems, medications, allergies and prescriptions, by the patient's uuid or pid as each route has it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ..common.messages import Request, Response
from ..common.state import Clock
from .records import Records
from .shapes import envelope, json_body, stringified, validation_error


class Clinical:
    def __init__(self, records: Records, clock: Clock):
        self.records, self.clock = records, clock

    def list_of(self, kind: str, request: Request, **ids: str) -> Response:
        """Unpaged lists: a patient's encounters/problems/allergies (by uuid) or vitals/medications (by pid),
        or the global lists, filtered by any field given in the query."""
        scope = self._scope(ids)
        rows = self.records.of_kind(kind, **scope)
        filters = {k: v for k, v in ((k, request.param(k)) for k in request.query) if not k.startswith("_")}
        rows = [r for r in rows if all(str(r.get(k)) == v for k, v in filters.items() if k in r)]
        return envelope(200, rows)

    def _scoped(self, kind: str, ids: dict[str, str], ruuid: str | None, rid: str | None) -> dict | None:
        """The record by uuid or id, if it belongs to the patient (and encounter) the path names."""
        scope = self._scope(ids)
        record = self.records.by_uuid(kind, ruuid) if ruuid else self.records.by_id(kind, rid or "")
        if record is None or any(str(record.get(k)) != str(v) for k, v in scope.items()):
            return None
        return record

    def one_of(
        self, kind: str, request: Request, ruuid: str | None = None, rid: str | None = None, **ids: str
    ) -> Response:
        record = self._scoped(kind, ids, ruuid, rid)
        if record is None:
            return envelope(404, [])
        return envelope(200, record)

    def encounter_create(self, request: Request, puuid: str) -> Response:
        patient = self.records.patient(puuid)
        body = json_body(request)
        for name in ("pc_catid", "class_code"):
            if not str(body.get(name, "")).strip():
                raise validation_error(
                    name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                )
        number = self.records.next_id("encounter")
        record = {
            "id": str(number),
            "uuid": str(uuid.uuid4()),
            "date": f"{datetime.fromtimestamp(self.clock.now(), UTC):%Y-%m-%d %H:%M:%S}",
            **{k: str(v) if v is not None else "" for k, v in body.items()},
            "pid": patient["pid"],
            "encounter": str(number),
        }
        self.records.insert("encounter", record)
        return envelope(201, {"encounter": number, "uuid": record["uuid"]})

    def child_create(self, kind: str, request: Request, **ids: str) -> Response:
        scope = self._scope(ids)
        body = json_body(request)
        if kind != "vital":
            for name in ("title", "begdate"):
                if not str(body.get(name) or "").strip():
                    raise validation_error(
                        name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                    )
        new_id = self.records.next_id(kind)
        record = {"id": str(new_id), "uuid": str(uuid.uuid4()), **stringified(body), **scope}
        if kind == "vital":
            record["date"] = record.get("date") or f"{datetime.fromtimestamp(self.clock.now(), UTC):%Y-%m-%d %H:%M:%S}"
        else:
            record["type"] = kind
            if "puuid" not in record:
                record["puuid"] = self.records.patient_by_pid(record["pid"])["uuid"]
        self.records.insert(kind, record)
        if kind == "vital":
            return envelope(201, {"vid": new_id, "fid": new_id, "uuid": record["uuid"]})
        return envelope(201, {"id": new_id, "uuid": record["uuid"]})

    def child_update(
        self, kind: str, request: Request, ruuid: str | None = None, rid: str | None = None, **ids: str
    ) -> Response:
        record = self._scoped(kind, ids, ruuid, rid)
        if record is None:
            return envelope(404, [])
        protected = {"id", "uuid", "pid", "puuid", "eid", "type"}
        record |= {k: v for k, v in stringified(json_body(request)).items() if k not in protected}
        self.records.save(kind, record)
        return envelope(200, record)

    def _scope(self, ids: dict[str, str]) -> dict[str, str]:
        """Fields a record must carry to belong to the route's patient (and encounter). An unknown patient
        uuid is a 400 validation error; an unknown pid simply matches nothing, as in OpenEMR."""
        scope = {name: ids[name] for name in ("pid", "eid") if name in ids}
        if "puuid" in ids:
            scope["pid"] = self.records.patient(ids["puuid"])["pid"]
        return scope
