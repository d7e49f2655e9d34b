"""OpenEMR's Standard API for patients (CONTRACTS.md B.5, B.6): search with `_limit`/`_offset` paging and
`links` that name `_count`, read, create and update."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from ..common import words
from ..common.messages import Request, Response, json_response
from ..common.state import Clock
from .records import Records
from .shapes import envelope, json_body, paging_number, validation_error

MAX_LIMIT = 200  # QueryPagination::MAX_LIMIT
PATIENT_SEARCH_FIELDS = words(  # PatientRestController::SUPPORTED_SEARCH_FIELDS
    "fname lname ss street postal_code city state phone_home phone_biz phone_cell postal_contact sex country_code "
    "email DOB"
)
PATIENT_WRITE_FIELDS = words(
    "title fname mname lname street postal_code city state country_code phone_contact phone_home phone_cell email "
    "DOB sex race ethnicity"
)


class Patients:
    def __init__(self, records: Records, clock: Clock):
        self.records, self.clock = records, clock

    def now(self) -> str:
        """patient_data.date: the row's last update, 'YYYY-MM-DD HH:MM:SS' (UTC here)."""
        return f"{datetime.fromtimestamp(self.clock.now(), UTC):%Y-%m-%d %H:%M:%S}"

    def patient_list(self, request: Request) -> Response:
        """Search on the whitelisted fields, `_sort`, and `_limit`/`_offset` paging (0 = all, at most 200).
        The links name `_count`, which this endpoint ignores: following `next` returns every remaining row."""
        limit = min(paging_number(request, "_limit", request.param("_maxresults")), MAX_LIMIT)
        offset = paging_number(request, "_offset")
        if request.param("_sort") or any(request.param(name) for name in PATIENT_SEARCH_FIELDS):
            rows = self._searched(request)
            total, page = len(rows), rows[offset : offset + limit] if limit else rows[offset:]
        else:  # the whole table in id order: paged in SQL, so a 100,000-patient stand-in stays quick
            page, total = self.records.page_of_kind("patient", offset, limit)
        kept = [
            (k, v) for k, values in request.query.items() for v in values if k not in {"_limit", "_offset", "_count"}
        ]
        uri = f"{request.origin}{request.path}?{urlencode(kept)}"
        links = {"first": f"{uri}&_offset=0&_count={limit}"}
        if offset > 0:
            links["previous"] = f"{uri}&_offset={max(0, offset - limit)}&_count={limit}"
        if limit and offset + limit < total:
            links["next"] = f"{uri}&_offset={offset + limit}&_count={limit}"
        return envelope(200, page, links)

    def _searched(self, request: Request) -> list[dict]:
        rows = self.records.of_kind("patient")
        for name in PATIENT_SEARCH_FIELDS:
            wanted = request.param(name)
            if wanted:
                rows = [r for r in rows if self._field_matches(name, r.get(name) or "", wanted)]
        for key in reversed([k for k in (request.param("_sort") or "").split(",") if k]):
            field = key.lstrip("-")
            rows.sort(key=lambda r, field=field: r.get(field) or "", reverse=key.startswith("-"))
        return rows

    def patient_get(self, request: Request, puuid: str) -> Response:
        patient = self.records.by_uuid("patient", puuid)
        if patient is None:
            return envelope(404, [])
        return envelope(200, patient)

    def patient_create(self, request: Request) -> Response:
        body = self._patient_body(request, required=("fname", "lname", "DOB", "sex"))
        pid = self.records.next_id("patient")
        patient_uuid = str(uuid.uuid4())
        blank = dict.fromkeys(
            words(
                "title mname ss street postal_code city state county country_code drivers_license "
                "contact_relationship phone_contact phone_home phone_biz phone_cell email race ethnicity status"
            ),
            "",
        )
        record = {"id": str(pid + 100), "pid": str(pid), "uuid": patient_uuid, "pubpid": str(pid), **blank, **body}
        record["date"] = self.now()
        self.records.insert("patient", record)
        return envelope(201, {"pid": pid, "uuid": patient_uuid})

    def patient_update(self, request: Request, puuid: str) -> Response:
        patient = self.records.by_uuid("patient", puuid)
        if patient is None:
            raise validation_error("uuid", "invalid or nonexisting value", f" value {puuid}")
        patient |= self._patient_body(request, required=())
        patient["date"] = self.now()
        self.records.save("patient", patient)
        return envelope(200, patient)

    def bulk_add(self, request: Request) -> Response:
        """Control: add `count` synthetic patients in one transaction (benchmarks seed 100,000 this way;
        the API's POST would take minutes). Only the patient rows, no chart; `date` (last update) may be given."""
        body = json_body(request)
        count, stamp = int(body.get("count") or 0), str(body.get("date") or self.now())
        with self.records.store.transaction():
            first = self.records.next_id("patient")
            rows = []
            for pid in range(first, first + count):
                rows.append(
                    {
                        "id": str(pid + 100), "pid": str(pid), "uuid": str(uuid.uuid4()),
                        "pubpid": f"MRN{100000 + pid}",
                        "title": "", "fname": f"Given{pid}", "mname": "", "lname": f"Family{pid % 997}",
                        "DOB": f"{1940 + pid % 75}-{1 + pid % 12:02d}-{1 + pid % 28:02d}",
                        "sex": ("Male", "Female")[pid % 2], "email": f"patient{pid}@example.org", "date": stamp,
                    }
                )  # fmt: skip
            self.records.insert_many("patient", rows)
        return json_response(200, {"added": count, "first_pid": first})

    def _patient_body(self, request: Request, required: tuple[str, ...]) -> dict[str, str]:
        body = json_body(request)
        for name in required:
            if name not in body:
                raise validation_error(
                    name, "Required::NON_EXISTENT_KEY", f"{name} must be provided, but does not exist"
                )
            if not str(body[name]).strip():
                raise validation_error(name, "NotEmpty::EMPTY", f"{name} must not be empty")
        if "DOB" in body and not self._is_date(str(body["DOB"])):
            raise validation_error("DOB", "Datetime::INVALID_VALUE", "DOB must be a valid date")
        return {k: str(v) for k, v in body.items() if k in PATIENT_WRITE_FIELDS}

    @staticmethod
    def _field_matches(name: str, value: str, wanted: str) -> bool:
        """DOB matches exactly; text fields by case-insensitive prefix."""
        return value == wanted if name == "DOB" else value.lower().startswith(wanted.lower())

    @staticmethod
    def _is_date(text: str) -> bool:
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return False
        return True
