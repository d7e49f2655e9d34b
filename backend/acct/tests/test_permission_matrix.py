"""Every API route, found by walking the URL conf, against anonymous callers and each role.

Adding an API route without an entry here fails `test_every_api_route_is_in_the_matrix`. Each
entry names the request to send and the status each caller must get; denials must be JSON and
audited. Callers authenticate with real knox tokens (sessions are covered in test_auth.py).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import Action, AuditEvent

CALLERS = ("anonymous", "DOCTOR", "RIB", "NURSE", "ADMIN", "OPS", "SERVICE")
PEOPLE = ("DOCTOR", "RIB", "NURSE", "ADMIN", "OPS")


def expect(default: int, **overrides: int) -> dict[str, int]:
    return {caller: overrides.get(caller, default) for caller in CALLERS}


AUTHENTICATED = expect(200, anonymous=401)
ADMIN_ONLY = expect(403, anonymous=401, ADMIN=200)
CLINICAL = expect(403, anonymous=401, DOCTOR=200, RIB=200, NURSE=200)
PUBLIC = expect(200)
PATIENT = "/api/patients/{puuid}"  # {puuid}: a patient of the OpenEMR stand-in, fresh in the cache

# route (as written in the URL conf) -> [(method, path, body, expected status per caller)]
MATRIX: dict[str, list[tuple[str, str, dict | None, dict[str, int]]]] = {
    "api/auth/csrf": [("get", "/api/auth/csrf", None, PUBLIC)],
    "api/auth/login": [("post", "/api/auth/login", {}, expect(400))],  # open to all; empty body is invalid
    "api/auth/logout": [("post", "/api/auth/logout", None, expect(204, anonymous=401, SERVICE=403))],
    "api/auth/me": [("get", "/api/auth/me", None, AUTHENTICATED)],
    "api/auth/token": [
        ("post", "/api/auth/token", {}, expect(400)),
        ("delete", "/api/auth/token", None, expect(204, anonymous=401)),
    ],
    "api/audit/events": [("get", "/api/audit/events", None, ADMIN_ONLY)],
    "api/audit/events.csv": [("get", "/api/audit/events.csv", None, ADMIN_ONLY)],
    "api/patients": [("get", "/api/patients?q=a", None, CLINICAL)],
    "api/patients/<str:puuid>": [("get", PATIENT, None, CLINICAL)],
    "api/patients/<str:puuid>/timeline": [("get", f"{PATIENT}/timeline", None, CLINICAL)],
    **{
        f"api/patients/<str:puuid>/{section}": [("get", f"{PATIENT}/{section}", None, CLINICAL)]
        for section in ("encounters", "problems", "medications", "prescriptions", "allergies", "vitals")
    },
    "api/schema": [("get", "/api/schema", None, PUBLIC)],
    "api/docs": [("get", "/api/docs", None, PUBLIC)],
}


@pytest.fixture
def matrix_patient(emr) -> str:
    from emr.clients.openemr_client import get_openemr_client
    from emr.services import patient_upsert_from_emr

    record, _ = get_openemr_client().search_patients(limit=1)
    return patient_upsert_from_emr(record[0]).emr_uuid


def api_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route

    return {route for route in walk(get_resolver().url_patterns) if route.startswith("api/")}


def test_every_api_route_is_in_the_matrix():
    routes = api_routes()
    assert routes - MATRIX.keys() == set(), "API routes without a permission-matrix entry"
    assert MATRIX.keys() - routes == set(), "matrix entries for routes that no longer exist"


CASES = [
    pytest.param(route, method, path, body, caller, expected[caller], id=f"{method.upper()} {route} as {caller}")
    for route, requests in MATRIX.items()
    for method, path, body, expected in requests
    for caller in CALLERS
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "path", "body", "caller", "expected"), CASES)
def test_route_answers_each_caller_as_the_matrix_says(
    api_client, token_client, matrix_patient, route, method, path, body, caller, expected
):
    client = api_client if caller == "anonymous" else token_client(caller)
    path = path.format(puuid=matrix_patient)
    denials_before = AuditEvent.objects.filter(action__in=(Action.PERMISSION_DENIED, Action.LOGIN_FAILED)).count()

    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)

    assert response.status_code == expected, getattr(response, "data", response.content[:300])
    if expected in (401, 403):
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["status"] == expected and response.json()["detail"]
        denials = AuditEvent.objects.filter(action__in=(Action.PERMISSION_DENIED, Action.LOGIN_FAILED))
        assert denials.count() == denials_before + 1, "the denial was not audited"
        assert denials.first().status_code == expected


def test_matrix_size_is_reported():
    """Printed in the test log for the issue note: routes and requests covered."""
    cases = sum(len(requests) for requests in MATRIX.values()) * len(CALLERS)
    print(f"permission matrix: {len(MATRIX)} API routes, {cases} route x caller checks")
    assert len(MATRIX) == len(api_routes())
