"""Every API route, found by walking the URL conf, against anonymous callers and each role.

The entries live with their apps (`<app>/tests/permission_matrix.py`, see acct/tests/matrix.py).
Adding an API route without an entry fails `test_every_api_route_is_in_the_matrix`. Each entry names
the request to send and the status each caller must get; denials must be JSON and audited. Callers
authenticate with real knox tokens (sessions are covered in test_auth.py).
"""

import importlib
import string

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from acct.tests.matrix import CALLER_ROLES, CALLERS
from audit.models import Action, AuditEvent


def _collect():
    entries, placeholders = {}, {}
    for app in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{app.name}.tests.permission_matrix")
        except ModuleNotFoundError:
            continue
        duplicated = entries.keys() & module.ENTRIES.keys()
        assert not duplicated, f"routes declared twice: {duplicated}"
        entries.update(module.ENTRIES)
        placeholders.update(getattr(module, "PLACEHOLDERS", {}))
    return entries, placeholders


MATRIX, PLACEHOLDERS = _collect()


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
    pytest.param(method, path, body, caller, expected[caller], id=f"{method.upper()} {route} as {caller}")
    for route, requests in sorted(MATRIX.items())
    for method, path, body, expected in requests
    for caller in CALLERS
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "caller", "expected"), CASES)
def test_route_answers_each_caller_as_the_matrix_says(request, api_client, token_client, method, path, body, caller,
                                                      expected):  # fmt: skip
    client = api_client if caller == "anonymous" else token_client(*CALLER_ROLES.get(caller, (caller,)))
    names = {name for _, name, _, _ in string.Formatter().parse(path) if name}
    path = path.format(**{name: PLACEHOLDERS[name](request) for name in names})
    denials = AuditEvent.objects.filter(action__in=(Action.PERMISSION_DENIED, Action.LOGIN_FAILED))
    denials_before = denials.count()

    call = getattr(client, method)
    response = call(path, body, format="json") if body is not None else call(path)

    assert response.status_code == expected, getattr(response, "data", response.content[:300])
    if expected in (401, 403):
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["status"] == expected and response.json()["detail"]
        assert denials.count() == denials_before + 1, "the denial was not audited"
        assert denials.first().status_code == expected


def test_matrix_size_is_reported():
    """Printed in the test log for the issue notes: routes and checks covered."""
    checks = sum(len(requests) for requests in MATRIX.values()) * len(CALLERS)
    print(f"permission matrix: {len(MATRIX)} API routes, {checks} route x caller checks")
    assert len(MATRIX) == len(api_routes())
