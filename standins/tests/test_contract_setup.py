"""standins.contract, which prepares a real server for these suites, run here against an OpenEMR stand-in of
the test's own: the client it registers stays disabled until an administrator enables it, and the seeding
adds patients only up to the number asked for."""

import pytest
import requests

from .. import contract


def patient_count(origin: str, account: dict[str, str]) -> int:
    form = {
        "grant_type": "password",
        "user_role": "users",
        "scope": "openid api:oemr user/patient.read",
        **{key: account[key] for key in ("client_id", "client_secret", "username", "password")},
    }
    token = requests.post(f"{origin}/oauth2/default/token", data=form, timeout=10).json()["access_token"]
    answer = requests.get(
        f"{origin}/apis/default/api/patient", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return len(answer.json()["data"])


def test_register_then_enable_then_seed_up_to_the_count(spawn, monkeypatch):
    origin = spawn("standins.openemr", "--password-grant", "3", "--patients", "3").origin
    contract.wait(f"{origin}/apis/default/fhir/metadata", timeout_s=10, interval_s=0.1)
    client = contract.openemr_register(origin)
    account = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "username": "admin",
        "password": "pass",
    }
    for name, value in account.items():
        monkeypatch.setenv(f"OPENEMR_CONTRACT_{name.upper()}", value)

    with pytest.raises(SystemExit, match="401"):  # created disabled (user/ scopes): no token yet
        contract.openemr_seed(origin, patients=5)
    enabled = requests.post(
        f"{origin}/__control__/clients/{client['client_id']}", json={"is_enabled": True}, timeout=10
    )
    assert enabled.json()["is_enabled"] is True

    assert contract.openemr_seed(origin, patients=5) == 5
    assert patient_count(origin, account) == 5
    assert contract.openemr_seed(origin, patients=2) == 5  # never removes, never adds beyond the count
    assert patient_count(origin, account) == 5


def test_wait_gives_up_with_the_reason():
    with pytest.raises(SystemExit, match="not ready after"):
        contract.wait("http://127.0.0.1:1/fhir/metadata", timeout_s=0.2, interval_s=0.1)
