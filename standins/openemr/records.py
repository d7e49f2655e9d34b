"""OpenEMR's rows (patients, encounters, vitals, problems, medications, allergies, prescriptions) in the
stand-in's `record` table: one row per OpenEMR row, `data` being what the API returns."""

from __future__ import annotations

import json

from ..common.store import Store
from .shapes import validation_error

TABLES = {  # record kind -> OpenEMR table; ids are per table (problems, medications and allergies share `lists`)
    "patient": "patient_data",
    "encounter": "form_encounter",
    "vital": "form_vitals",
    "medical_problem": "lists",
    "medication": "lists",
    "allergy": "lists",
    "prescription": "prescriptions",
}


class Records:
    """Reads and writes of the `record` table; ids are per OpenEMR table, uuids unique across all."""

    def __init__(self, store: Store):
        self.store = store

    def insert(self, kind: str, row: dict) -> None:
        data = json.dumps(row, ensure_ascii=False)
        self.store.execute(
            "INSERT INTO record VALUES (?, ?, ?, ?, ?)", (TABLES[kind], kind, int(row["id"]), row["uuid"], data)
        )

    def save(self, kind: str, row: dict) -> None:
        self.store.execute(
            "UPDATE record SET data = ? WHERE tbl = ? AND id = ?",
            (json.dumps(row, ensure_ascii=False), TABLES[kind], int(row["id"])),
        )

    def insert_many(self, kind: str, rows: list[dict]) -> None:
        self.store.executemany(
            "INSERT INTO record VALUES (?, ?, ?, ?, ?)",
            [(TABLES[kind], kind, int(r["id"]), r["uuid"], json.dumps(r, ensure_ascii=False)) for r in rows],
        )

    def page_of_kind(
        self, kind: str, offset: int, limit: int, *, updated: tuple[tuple[str, str], ...] = ()
    ) -> tuple[list[dict], int]:
        """One page (limit 0 = all) in id order and the total, filtered in SQL on the row's `date` (the
        patient_data last-update column) with (operator, 'YYYY-MM-DD HH:MM:SS') pairs."""
        where, params = "kind = ?", [kind]
        for operator, value in updated:  # operator: one of fhir.LAST_UPDATED_PREFIXES' values, never user text
            where += f" AND COALESCE(json_extract(data, '$.date'), '') {operator} ?"
            params.append(value)
        total = self.store.row(f"SELECT COUNT(*) AS n FROM record WHERE {where}", tuple(params))  # noqa: S608
        rows = self.store.rows(
            f"SELECT data FROM record WHERE {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit or -1, offset),
        )
        return [json.loads(r["data"]) for r in rows], int(total["n"]) if total else 0

    def of_kind(self, kind: str, **scope: str) -> list[dict]:
        rows = [
            json.loads(r["data"])
            for r in self.store.rows("SELECT data FROM record WHERE kind = ? ORDER BY id", (kind,))
        ]
        return [r for r in rows if all(str(r.get(k)) == str(v) for k, v in scope.items())]

    def by_uuid(self, kind: str, record_uuid: str) -> dict | None:
        found = self.store.row("SELECT data FROM record WHERE kind = ? AND uuid = ?", (kind, record_uuid))
        return json.loads(found["data"]) if found else None

    def by_id(self, kind: str, record_id: str) -> dict | None:
        if not record_id.isdigit():
            return None
        found = self.store.row("SELECT data FROM record WHERE kind = ? AND id = ?", (kind, int(record_id)))
        return json.loads(found["data"]) if found else None

    def next_id(self, kind: str) -> int:
        found = self.store.row("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM record WHERE tbl = ?", (TABLES[kind],))
        return int(found["next"]) if found else 1

    def patient(self, puuid: str) -> dict:
        patient = self.by_uuid("patient", puuid)
        if patient is None:
            raise validation_error("uuid", "invalid or nonexisting value", f" value {puuid}")
        return patient

    def patient_by_pid(self, pid: str) -> dict:
        patient = next((p for p in self.of_kind("patient") if p["pid"] == str(pid)), None)
        if patient is None:
            raise validation_error("pid", "invalid or nonexisting value", f" value {pid}")
        return patient
