"""The local run's stand-in EHR for CDS Hooks (scripts/run.sh trusts its key when .env names no issuer):
signed calls through nginx, shared by e2e/test_cds_hooks.py and backend/benchmarks/cds_hooks_latency.py."""

import statistics
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[1]
KEY = ROOT / "var" / "run" / "cds-ehr-key.pem"
ISSUER = "urn:cdss:local-ehr"  # cds_hooks.management.commands.cds_hooks_local_ehr
KID = "local-ehr-1"
PATIENT_SYSTEM = "urn:cdss:fhir:patient"  # fhir_sync.identifiers: the CDSS's patients carry their EMR uuid
PATIENT_VIEW = "/cds-services/cdss-patient-view"
ORDER_SIGN = "/cds-services/cdss-imaging-order-sign"


def token(audience: str, **claims) -> str:
    key = serialization.load_pem_private_key(KEY.read_bytes(), password=None)
    now = int(time.time())
    body = {"iss": ISSUER, "aud": audience, "exp": now + 120, "iat": now, "jti": str(uuid.uuid4()), **claims}
    return jwt.encode(body, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def call(http: requests.Session, base: str, path: str, body: dict | None = None, *, auth: str | None = None):
    headers = {"Authorization": f"Bearer {auth if auth is not None else token(base + path)}"}
    if body is None:
        return http.get(base + path, headers=headers, timeout=10)
    return http.post(base + path, json=body, headers=headers, timeout=10)


def patient_view(emr_uuid: str) -> dict:
    """A patient-view call, the EHR's Patient prefetched (carrying the CDSS's identifier)."""
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": "e2e-1"},
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": "e2e-1",
                "identifier": [{"system": PATIENT_SYSTEM, "value": emr_uuid}],
            }
        },
    }


def order_sign(emr_uuid: str) -> dict:
    """An order-sign call with a brain MR draft and, prefetched, a brain MR the EHR holds from 10 days ago."""
    started = (date.today() - timedelta(days=10)).isoformat()
    return {
        **patient_view(emr_uuid),
        "hook": "order-sign",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "e2e-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "ServiceRequest", "id": "mr-1", "status": "draft", "intent": "order",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "24587-8"}]},
                            "subject": {"reference": "Patient/e2e-1"},
                        }
                    }
                ],
            },
        },
        "prefetch": {
            **patient_view(emr_uuid)["prefetch"],
            "imagingStudies": {
                "resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": {
                    "resourceType": "ImagingStudy", "id": "img-1", "status": "available", "started": started,
                    "subject": {"reference": "Patient/e2e-1"}, "modality": [{"code": "MR"}], "description": "MR brain",
                }}],
            },
        },
    }  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def measure(http: requests.Session, base: str, path: str, make, emr_uuid: str, n: int) -> dict:
    """n signed calls one after another (a fresh JWT each, signed before the clock starts); ms per call."""
    times = []
    for _ in range(n):
        body, auth = make(emr_uuid), token(base + path)
        started = time.perf_counter()
        response = call(http, base, path, body, auth=auth)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return {
        "n": n,
        "p50": statistics.median(times),
        "p95": percentile(times, 0.95),
        "p99": percentile(times, 0.99),
        "max": max(times),
        "cards": len(response.json()["cards"]),
    }
