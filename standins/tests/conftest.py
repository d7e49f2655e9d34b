"""Fixtures for the stand-ins' tests. Each emulator runs as a subprocess on a free port with its own SQLite
file (one per test session), and the tests talk to it over HTTP only.

To run the same tests against a real server, set HAPI_CONTRACT_URL (its FHIR base, e.g.
http://hapi.internal:8080/fhir) or OPENEMR_CONTRACT_URL (the server origin) plus OPENEMR_CONTRACT_CLIENT_ID,
OPENEMR_CONTRACT_CLIENT_SECRET, OPENEMR_CONTRACT_USERNAME and OPENEMR_CONTRACT_PASSWORD. Tests that need the
emulators' /__control__/ endpoints (faults, settings, clock, restarts) are skipped then.
"""

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
import requests

from ..process import StandinProcess
from .support import OEMR_SCOPES, ApiClient, Control

# Hex: a urlsafe secret starts with "-" one time in 64, and argparse then reads it as an option (a CI run
# lost every OpenEMR stand-in test to that).
HAPI_CLIENT = ("hapi-test-client", secrets.token_hex(16))
OPENEMR_CLIENT = ("openemr-test-client", secrets.token_hex(16))
OPENEMR_USER = ("admin", "pass")


# --- processes ------------------------------------------------------------------------------------------------
@pytest.fixture
def spawn(tmp_path) -> Iterator[Callable[..., StandinProcess]]:
    """spawn("standins.hapi", *args) -> a fresh emulator of this test's own, stopped afterwards."""
    if os.environ.get("HAPI_CONTRACT_URL") or os.environ.get("OPENEMR_CONTRACT_URL"):
        pytest.skip("starts emulator processes")
    started: list[StandinProcess] = []

    def start(module: str, *args: str) -> StandinProcess:
        process = StandinProcess(module, tmp_path / f"{module}-{len(started)}.sqlite3", list(args)).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _session_emulator(tmp_path_factory, contract_env: str, module: str, args: list[str]):
    if os.environ.get(contract_env):
        yield None
        return
    process = StandinProcess(module, tmp_path_factory.mktemp(module) / "state.sqlite3", args).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def hapi_process(tmp_path_factory) -> Iterator[StandinProcess | None]:
    client_args = ["--client-id", HAPI_CLIENT[0], "--client-secret", HAPI_CLIENT[1]]  # auth stays off until a test
    yield from _session_emulator(tmp_path_factory, "HAPI_CONTRACT_URL", "standins.hapi", client_args)


@pytest.fixture(scope="session")
def openemr_process(tmp_path_factory) -> Iterator[StandinProcess | None]:
    args = ["--password-grant", "3", "--client-id", OPENEMR_CLIENT[0], "--client-secret", OPENEMR_CLIENT[1]]
    yield from _session_emulator(tmp_path_factory, "OPENEMR_CONTRACT_URL", "standins.openemr", args)


# --- what tests use ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fhir_base(hapi_process) -> str:
    """The FHIR base URL, e.g. http://127.0.0.1:PORT/fhir."""
    return os.environ.get("HAPI_CONTRACT_URL", "").rstrip("/") or f"{hapi_process.origin}/fhir"


@pytest.fixture(scope="session")
def openemr_origin(openemr_process) -> str:
    return os.environ.get("OPENEMR_CONTRACT_URL", "").rstrip("/") or openemr_process.origin


@pytest.fixture(scope="session")
def openemr_account() -> dict[str, str]:
    """An enabled confidential client allowed the password grant, and an API user."""
    env = os.environ.get
    if env("OPENEMR_CONTRACT_URL"):
        names = ("CLIENT_ID", "CLIENT_SECRET", "USERNAME", "PASSWORD")
        values = [env(f"OPENEMR_CONTRACT_{name}", "") for name in names]
        return dict(zip(("client_id", "client_secret", "username", "password"), values, strict=True))
    return {
        "client_id": OPENEMR_CLIENT[0],
        "client_secret": OPENEMR_CLIENT[1],
        "username": OPENEMR_USER[0],
        "password": OPENEMR_USER[1],
    }


def _controlled(process) -> Iterator[Control]:
    """The stand-in's /__control__/ endpoints; whatever a test changed there is restored after it."""
    if process is None:
        pytest.skip("needs the emulator's /__control__/ endpoints")
    control = Control(process.origin)
    yield control
    control.restore()


@pytest.fixture
def hapi_control(hapi_process) -> Iterator[Control]:
    yield from _controlled(hapi_process)


@pytest.fixture
def openemr_control(openemr_process) -> Iterator[Control]:
    yield from _controlled(openemr_process)


@pytest.fixture
def password_token(openemr_origin, openemr_account) -> Callable[..., dict]:
    """password_token(scope=...) -> the token endpoint's JSON for the API user (asserts a 200)."""

    def grant(scope: str = OEMR_SCOPES, **extra: str) -> dict:
        form = {
            "grant_type": "password",
            "client_id": openemr_account["client_id"],
            "client_secret": openemr_account["client_secret"],
            "user_role": "users",
            "username": openemr_account["username"],
            "password": openemr_account["password"],
            "scope": scope,
            **extra,
        }
        response = requests.post(f"{openemr_origin}/oauth2/default/token", data=form, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    return grant


@pytest.fixture
def oemr(openemr_origin, password_token) -> ApiClient:
    """OpenEMR's Standard API (…/apis/default/api) with a fresh user token."""
    return ApiClient(f"{openemr_origin}/apis/default/api", password_token()["access_token"])


@pytest.fixture(scope="session")
def fhir(fhir_base) -> ApiClient:
    """The HAPI FHIR base, without credentials (stock HAPI has no auth)."""
    return ApiClient(fhir_base)
