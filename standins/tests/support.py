"""Talking to a stand-in over HTTP, and steering it through its /__control__/ endpoints."""

from __future__ import annotations

import requests

FHIR_JSON = {"Content-Type": "application/fhir+json"}
# What the CDS asks OpenEMR for (CONTRACTS.md B.4), plus write scopes for the tests that create records.
OEMR_SCOPES = (
    "openid offline_access api:oemr api:fhir user/patient.read user/patient.write user/encounter.read "
    "user/encounter.write user/vital.read user/vital.write user/medical_problem.read user/medical_problem.write "
    "user/medication.read user/prescription.read user/allergy.read user/Patient.read"
)


class ApiClient:
    """requests against one base URL: api.get("/Patient/1") is GET <base>/Patient/1, with a timeout."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


class Control:
    """The test-only endpoints every emulator has. restore() undoes faults, settings and clock changes."""

    def __init__(self, origin: str):
        self.origin = origin

    def _call(self, method: str, name: str, payload: dict | None = None) -> dict:
        response = requests.request(method, f"{self.origin}/__control__/{name}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def faults(self, **faults: object) -> dict:
        return self._call("POST", "faults", faults)

    def settings(self, **settings: object) -> dict:
        return self._call("POST", "settings", settings)

    def advance_clock(self, seconds: float) -> dict:
        return self._call("POST", "clock", {"advance_s": seconds})

    def reset_data(self) -> dict:
        return self._call("POST", "reset")

    def restore(self) -> None:
        for name in ("faults", "settings", "clock"):
            self._call("DELETE", name)
