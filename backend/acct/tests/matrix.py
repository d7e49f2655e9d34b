"""Shared vocabulary of the permission matrix (acct/tests/test_permission_matrix.py).

Each app declares its own routes in `<app>/tests/permission_matrix.py`:

    ENTRIES = {"api/things/<int:pk>": [("get", "/api/things/{thing}", None, CLINICAL)]}
    PLACEHOLDERS = {"thing": make_thing}   # make_thing(request) -> str, called inside the test

`request` is the pytest request: a provider may use `request.getfixturevalue(...)` for root fixtures.
"""

from collections.abc import Callable

CALLERS = ("anonymous", "DOCTOR", "RIB", "RADIOLOGIST", "NURSE", "ADMIN", "OPS", "SERVICE")
# The roles each caller's user holds (default: the caller's name). A radiologist is radiology staff with the
# sign-off role, so RIB alone is a radiographer.
CALLER_ROLES = {"RADIOLOGIST": ("RIB", "RADIOLOGIST")}

Entry = tuple[str, str, dict | None, dict[str, int]]  # method, path, body, expected status per caller
Placeholder = Callable[..., str]


def expect(default: int, **overrides: int) -> dict[str, int]:
    """A radiologist holds RIB too: unless named, RADIOLOGIST gets what RIB gets."""
    overrides.setdefault("RADIOLOGIST", overrides.get("RIB", default))
    return {caller: overrides.get(caller, default) for caller in CALLERS}


PUBLIC = expect(200)
AUTHENTICATED = expect(200, anonymous=401)
ADMIN_ONLY = expect(403, anonymous=401, ADMIN=200)
CLINICAL = expect(403, anonymous=401, DOCTOR=200, RIB=200, NURSE=200)
RADIOLOGIST_ONLY = expect(403, anonymous=401, RIB=403, RADIOLOGIST=200)
DOCTOR_OR_RIB = expect(403, anonymous=401, DOCTOR=200, RIB=200)
