"""The operations overview through nginx, as the demo OPS user: every dependency's state from the running
stack, the queues, the live colour, and no patient data in it. (Cutting a dependency is covered by the
backend's tests against a broker address where nothing listens: the shared servers stay up here.)"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = {"database", "redis", "rabbitmq", "orthanc", "object_storage", "fhir", "emr", "ai_server"}


def demo_patient_identifiers(http, base_url, headers) -> list[str]:
    response = http.get(f"{base_url}/api/patients", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    patients = response.json()["results"]
    assert patients, "seed_demo made no patients"
    identifiers = []
    for patient in patients:  # record numbers, EMR ids and full names (one Hangul syllable alone is no proof)
        family, given = patient["family_name"], patient["given_name"]
        identifiers += [
            patient["mrn"],
            patient["emr_uuid"],
            f"{family}{given}",
            f"{family} {given}",
            f"{given} {family}",
        ]
    return [value for value in identifiers if value.strip()]


def test_ops_sees_every_dependency_and_no_patient(http, base_url, token_headers):
    ops = token_headers("ops")
    response = http.get(f"{base_url}/api/ops/overview", headers=ops, timeout=30)

    assert response.status_code == 200, response.text
    body = response.json()
    states = {item["name"]: item["state"] for item in body["dependencies"]["items"]}
    assert set(states) == DEPENDENCIES
    assert {states[name] for name in ("database", "redis", "rabbitmq", "orthanc", "object_storage")} == {"up"}, states
    queues = {item["name"]: item for item in body["queues"]["items"]}
    assert body["queues"]["status"] == "ok" and isinstance(queues["ai_jobs"]["messages"], int)
    assert isinstance(queues["fhir_sync.dlq"]["messages"], int) and queues["fhir_sync.dlq"]["dead_letter"]
    colour_file = ROOT / "var" / "run" / "colour"
    live = colour_file.read_text().strip() if colour_file.exists() else "blue"  # scripts/_app.sh active_colour
    assert body["deployment"]["live_colour"] == live
    for section in ("fhir_dead_letters", "ai_jobs", "alerts", "backups"):
        assert body[section]["status"] == "ok", (section, body[section])

    text = json.dumps(body, ensure_ascii=False)
    for identifier in demo_patient_identifiers(http, base_url, token_headers("doctor")):
        assert identifier not in text


def test_a_clinician_cannot_read_it(http, base_url, token_headers):
    response = http.get(f"{base_url}/api/ops/overview", headers=token_headers("nurse"), timeout=30)
    assert response.status_code == 403
