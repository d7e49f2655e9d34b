"""What both emulators share: the /__control__/ endpoints, state kept across a restart, reset and reseeding.
Each test starts emulators of its own, so stopping one or wiping its data disturbs no other test."""

import time

import pytest
import requests

from .support import FHIR_JSON, ApiClient, Control

# An unauthenticated path of each emulator's own API, to watch faults on.
PROBES = {"standins.hapi": "/fhir/metadata", "standins.openemr": "/apis/default/fhir/metadata"}
OPENEMR_ARGS = ("--password-grant", "3", "--client-id", "restart-client", "--client-secret", "restart-secret")


def openemr_api(origin: str) -> ApiClient:
    form = {
        "grant_type": "password",
        "client_id": "restart-client",
        "client_secret": "restart-secret",
        "user_role": "users",
        "username": "admin",
        "password": "pass",
        "scope": "openid api:oemr user/patient.read user/patient.write",
    }
    token = requests.post(f"{origin}/oauth2/default/token", data=form, timeout=10).json()["access_token"]
    return ApiClient(f"{origin}/apis/default/api", token)


@pytest.mark.parametrize("module", sorted(PROBES))
def test_fault_control_endpoint(spawn, module):
    emulator = spawn(module)
    control, probe = Control(emulator.origin), f"{emulator.origin}{PROBES[module]}"
    defaults = requests.get(f"{emulator.origin}/__control__/faults", timeout=10).json()
    assert defaults == {"latency_ms": 0, "error_rate": 0.0, "error_status": 503, "outage": False, "garbage": False}

    assert control.faults(latency_ms=300)["latency_ms"] == 300
    started = time.monotonic()
    assert requests.get(probe, timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3

    control.faults(latency_ms=0, outage=True)
    assert requests.get(probe, timeout=10).status_code == 503
    assert requests.get(f"{emulator.origin}/__control__/faults", timeout=10).status_code == 200  # never faulted

    control.faults(outage=False, garbage=True)
    garbage = requests.get(probe, timeout=10)
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()

    control.faults(garbage=False, error_rate=1.0, error_status=502)
    assert requests.get(probe, timeout=10).status_code == 502

    for bad in ({"error_rate": 2}, {"nope": 1}, {"outage": "yes"}):
        assert requests.post(f"{emulator.origin}/__control__/faults", json=bad, timeout=10).status_code == 400
    reset = requests.delete(f"{emulator.origin}/__control__/faults", timeout=10).json()
    assert reset == defaults
    assert requests.get(probe, timeout=10).status_code == 200


def test_hapi_state_survives_restart(spawn):
    emulator = spawn("standins.hapi")
    fhir = ApiClient(f"{emulator.origin}/fhir")
    created = fhir.post("/Patient", json={"resourceType": "Patient", "gender": "female"}, headers=FHIR_JSON).json()
    emulator.stop()
    emulator.start()
    fhir = ApiClient(f"{emulator.origin}/fhir")
    assert fhir.get(f"/Patient/{created['id']}").json() == created
    later = fhir.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON).json()
    assert int(later["id"]) > int(created["id"])  # the id sequence carried on


def test_openemr_state_survives_restart(spawn):
    emulator = spawn("standins.openemr", *OPENEMR_ARGS)
    api = openemr_api(emulator.origin)
    body = {"fname": "Grace", "lname": "Moore", "DOB": "1970-05-06", "sex": "Female"}
    created = api.post("/patient", json=body).json()["data"]
    emulator.stop()
    emulator.start()
    again = ApiClient(api.base)
    again.session.headers.update(api.session.headers)  # the token issued before the restart still works
    assert again.get(f"/patient/{created['uuid']}").json()["data"]["fname"] == "Grace"


def test_reset_wipes_data_and_reseeds_the_same_records(spawn):
    hapi = spawn("standins.hapi")
    fhir = ApiClient(f"{hapi.origin}/fhir")
    rid = fhir.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON).json()["id"]
    Control(hapi.origin).reset_data()
    assert fhir.get(f"/Patient/{rid}").status_code == 404

    openemr = spawn("standins.openemr", *OPENEMR_ARGS)
    api = openemr_api(openemr.origin)
    seeded = api.get("/patient").json()["data"]
    body = {"fname": "Daniel", "lname": "Clark", "DOB": "1981-01-01", "sex": "Male"}
    created = api.post("/patient", json=body).json()["data"]
    Control(openemr.origin).reset_data()
    api = openemr_api(openemr.origin)  # tokens went with the data
    assert api.get(f"/patient/{created['uuid']}").status_code == 404
    assert api.get("/patient").json()["data"] == seeded


def test_seed_decides_the_synthetic_records(spawn):
    def patients(*args: str) -> list[dict]:
        emulator = spawn("standins.openemr", *OPENEMR_ARGS, "--patients", "5", *args)
        return openemr_api(emulator.origin).get("/patient").json()["data"]

    same_seed = patients("--seed", "7")
    assert patients("--seed", "7") == same_seed
    assert patients("--seed", "8") != same_seed
