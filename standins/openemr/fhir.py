"""The sliver of OpenEMR's FHIR API the CDS reads (CONTRACTS.md B.8): metadata and Patient."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ..common.messages import HttpError, Request, Response, json_response
from ..common.smart import smart_security
from ..common.state import Clock
from .records import Records
from .shapes import FHIR, OAUTH, paging_number

# _lastUpdated prefixes this stand-in understands, as SQL operators on patient_data.date (no prefix = eq)
LAST_UPDATED_PREFIXES = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "="}


class FhirApi:
    def __init__(self, records: Records, clock: Clock):
        self.records, self.clock = records, clock

    def metadata(self, request: Request) -> Response:
        oauth = f"{request.origin}{OAUTH}"
        security = smart_security({name: f"{oauth}/{name}" for name in ("authorize", "token", "introspect")})
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "software": {"name": "OpenEMR"},
            "fhirVersion": "4.0.1",
            "format": ["application/json"],
            "rest": [
                {
                    "mode": "server",
                    "security": security,
                    "resource": [{"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}]}],
                }
            ],
        }
        return json_response(200, statement, "application/fhir+json")

    def patient_search(self, request: Request) -> Response:
        """A Bundle of type `collection`, not `searchset` (openemr#6885); `_count`/`_offset` paging, and
        `_lastUpdated` (patient_data.date) with the ge/gt/le/lt/eq prefixes, repeatable for a range."""
        updated = tuple(self._last_updated(value) for value in request.query.get("_lastUpdated", []))
        tests = {
            "_id": lambda p, v: p["id"] == v,
            "family": lambda p, v: p["name"][0]["family"].lower().startswith(v.lower()),
            "given": lambda p, v: any(g.lower().startswith(v.lower()) for g in p["name"][0]["given"]),
            "birthdate": lambda p, v: p.get("birthDate") == v,
            "gender": lambda p, v: p.get("gender") == v,
        }
        count = paging_number(request, "_count")
        offset = paging_number(request, "_offset")
        if any(request.param(name) for name in tests):
            rows = [self.fhir_patient(p) for p in self.records.page_of_kind("patient", 0, 0, updated=updated)[0]]
            for name, test in tests.items():
                wanted = request.param(name)
                if wanted:
                    rows = [p for p in rows if test(p, wanted)]
            total, page = len(rows), rows[offset : offset + count] if count else rows[offset:]
        else:  # paged in SQL, so a 100,000-patient stand-in answers "what changed" quickly
            found, total = self.records.page_of_kind("patient", offset, count, updated=updated)
            page = [self.fhir_patient(p) for p in found]
        base = f"{request.origin}{FHIR}/Patient"
        kept = [(k, v) for k, values in request.query.items() for v in values if k not in {"_count", "_offset"}]
        links = [{"relation": "self", "url": request.url}]
        if count and offset + count < total:
            query = urlencode([*kept, ("_count", count), ("_offset", offset + count)])
            links.append({"relation": "next", "url": f"{base}?{query}"})
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="seconds")},
            "type": "collection",
            "total": total,
            "link": links,
            "entry": [{"fullUrl": f"{base}/{p['id']}", "resource": p} for p in page],
        }
        return json_response(200, bundle, "application/fhir+json")

    @staticmethod
    def _last_updated(value: str) -> tuple[str, str]:
        prefix = value[:2] if value[:2] in LAST_UPDATED_PREFIXES else "eq"
        text = value[2:] if value[:2] in LAST_UPDATED_PREFIXES else value
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise HttpError(
                json_response(400, {"validationErrors": {"_lastUpdated": f"invalid date {text}"}})
            ) from None
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        return LAST_UPDATED_PREFIXES[prefix], f"{when:%Y-%m-%d %H:%M:%S}"

    def patient_read(self, request: Request, puuid: str) -> Response:
        patient = self.records.by_uuid("patient", puuid)
        if patient is None:
            return json_response(404, [], "application/fhir+json")  # an empty array, not an OperationOutcome
        return json_response(200, self.fhir_patient(patient), "application/fhir+json")

    @staticmethod
    def _meta_updated(row: dict) -> dict:
        if not row.get("date"):
            return {}
        return {"lastUpdated": datetime.fromisoformat(row["date"]).replace(tzinfo=UTC).isoformat()}

    @staticmethod
    def fhir_patient(row: dict) -> dict:
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": row["uuid"],
            "meta": {"versionId": "1", **FhirApi._meta_updated(row)},
            "identifier": [
                {
                    "use": "official",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PT"}]},
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                    "value": row["pubpid"],
                }
            ],
            "name": [
                {"use": "official", "family": row["lname"], "given": [g for g in (row["fname"], row["mname"]) if g]}
            ],
            "gender": {"Male": "male", "Female": "female"}.get(row["sex"], "unknown"),
            "birthDate": row["DOB"],
        }
        if row.get("street"):
            resource["address"] = [
                {
                    "line": [row["street"]],
                    "city": row["city"],
                    "state": row["state"],
                    "postalCode": row["postal_code"],
                    "country": row["country_code"],
                }
            ]
        if row.get("phone_home"):
            resource["telecom"] = [{"system": "phone", "value": row["phone_home"], "use": "home"}]
        return resource
