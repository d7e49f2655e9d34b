"""The sliver of OpenEMR's FHIR API the CDS reads (CONTRACTS.md B.8): metadata and Patient."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ..common.messages import Request, Response, json_response
from ..common.smart import smart_security
from ..common.state import Clock
from .records import Records
from .shapes import FHIR, OAUTH, paging_number


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
        """A Bundle of type `collection`, not `searchset` (openemr#6885); `_count`/`_offset` paging."""
        rows = [self.fhir_patient(p) for p in self.records.of_kind("patient")]
        for name, test in {
            "_id": lambda p, v: p["id"] == v,
            "family": lambda p, v: p["name"][0]["family"].lower().startswith(v.lower()),
            "given": lambda p, v: any(g.lower().startswith(v.lower()) for g in p["name"][0]["given"]),
            "birthdate": lambda p, v: p.get("birthDate") == v,
            "gender": lambda p, v: p.get("gender") == v,
        }.items():
            wanted = request.param(name)
            if wanted:
                rows = [p for p in rows if test(p, wanted)]
        count = paging_number(request, "_count")
        offset = paging_number(request, "_offset")
        page = rows[offset : offset + count] if count else rows[offset:]
        base = f"{request.origin}{FHIR}/Patient"
        links = [{"relation": "self", "url": request.url}]
        if count and offset + count < len(rows):
            links.append({"relation": "next", "url": f"{base}?_count={count}&_offset={offset + count}"})
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="seconds")},
            "type": "collection",
            "total": len(rows),
            "link": links,
            "entry": [{"fullUrl": f"{base}/{p['id']}", "resource": p} for p in page],
        }
        return json_response(200, bundle, "application/fhir+json")

    def patient_read(self, request: Request, puuid: str) -> Response:
        patient = self.records.by_uuid("patient", puuid)
        if patient is None:
            return json_response(404, [], "application/fhir+json")  # an empty array, not an OperationOutcome
        return json_response(200, self.fhir_patient(patient), "application/fhir+json")

    @staticmethod
    def fhir_patient(row: dict) -> dict:
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": row["uuid"],
            "meta": {"versionId": "1"},
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
