"""Preparing a real HAPI FHIR or OpenEMR for the stand-ins' contract suites (standins/tests with
HAPI_CONTRACT_URL / OPENEMR_CONTRACT_URL). The stand-ins come ready for their tests; a real server does not:
it has to be up, OpenEMR needs an OAuth2 client and some patients. Used by the `contract` workflow
(.github/workflows/contract.yml) and by a hospital before go-live (docs/runbooks/contract-runs.md).

    python -m standins.contract wait URL [--timeout S]       # until URL answers 200 (a FHIR `metadata`)
    python -m standins.contract openemr-register ORIGIN      # prints OPENEMR_CONTRACT_CLIENT_ID=… and _SECRET=…
    python -m standins.contract openemr-seed ORIGIN [--patients N]   # adds patients until N exist

openemr-register registers a confidential client with the suite's scopes (CONTRACTS.md B.2). OpenEMR creates
such a client disabled: an administrator enables it (Administration → System → API Clients, or in the
database `oauth_clients.is_enabled`) before openemr-seed or the suite can get a token. openemr-seed reads
OPENEMR_CONTRACT_CLIENT_ID, _CLIENT_SECRET, _USERNAME and _PASSWORD, as the suite does, and writes synthetic
patients through the Standard API only: run it against a test instance, never a production EMR.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import requests

from .tests.support import OEMR_SCOPES

# Synthetic names: never a real person's record.
GIVEN = ("Contract", "Suite", "Probe", "Check", "Trial")
SEXES = ("Male", "Female")


def wait(url: str, timeout_s: float, interval_s: float = 5.0) -> None:
    """Poll url until it answers 200 itself (a redirect, e.g. to an installer page, is not ready); SystemExit
    after timeout_s. HAPI takes a minute or two to boot, OpenEMR's image installs itself first (minutes)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=10, allow_redirects=False)
            if response.status_code == 200:
                print(f"{url}: ready", file=sys.stderr)
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(interval_s)
    raise SystemExit(f"{url} not ready after {timeout_s:.0f} s ({last})")


def openemr_register(origin: str, client_name: str = "CDSS contract suite") -> dict:
    """Register a confidential client allowed the suite's scopes and the password grant (CONTRACTS.md B.2)."""
    body = {
        "application_type": "private",
        "redirect_uris": ["https://cdss.example.org/callback"],
        "client_name": client_name,
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "password", "refresh_token"],
        "scope": OEMR_SCOPES,
    }
    response = requests.post(f"{origin}/oauth2/default/registration", json=body, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"registration answered {response.status_code}: {response.text[:500]}")
    return response.json()


def _account_from_env() -> dict[str, str]:
    names = ("CLIENT_ID", "CLIENT_SECRET", "USERNAME", "PASSWORD")
    values = {name.lower(): os.environ.get(f"OPENEMR_CONTRACT_{name}", "") for name in names}
    missing = [f"OPENEMR_CONTRACT_{name}" for name in names if not values[name.lower()]]
    if missing:
        raise SystemExit("not set: " + ", ".join(missing))
    return values


def openemr_seed(origin: str, patients: int) -> int:
    """Create synthetic patients through the Standard API until at least `patients` exist; returns how many."""
    account = _account_from_env()
    form = {
        "grant_type": "password",
        "client_id": account["client_id"],
        "client_secret": account["client_secret"],
        "user_role": "users",
        "username": account["username"],
        "password": account["password"],
        "scope": "openid api:oemr user/patient.read user/patient.write",
    }
    token = requests.post(f"{origin}/oauth2/default/token", data=form, timeout=30)
    if token.status_code != 200:
        raise SystemExit(f"token request answered {token.status_code}: {token.text[:500]} (client enabled?)")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    api = f"{origin}/apis/default/api"
    existing = session.get(f"{api}/patient", timeout=30)
    existing.raise_for_status()
    count = len(existing.json()["data"])
    for n in range(count, patients):
        record = {
            "fname": GIVEN[n % len(GIVEN)],
            "lname": f"Patient{n:03d}",
            "DOB": f"19{50 + n % 45:02d}-0{1 + n % 9}-1{n % 10}",
            "sex": SEXES[n % 2],
            "city": "Seoul",
            "country_code": "KR",
        }
        created = session.post(f"{api}/patient", json=record, timeout=30)
        if created.status_code != 201:
            raise SystemExit(f"patient create answered {created.status_code}: {created.text[:500]}")
    return max(count, patients)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standins.contract", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    waiting = commands.add_parser("wait", help="wait until a URL answers 200")
    waiting.add_argument("url")
    waiting.add_argument("--timeout", type=float, default=900.0)
    register = commands.add_parser("openemr-register", help="register the suite's OAuth2 client")
    register.add_argument("origin")
    seed = commands.add_parser("openemr-seed", help="add synthetic patients until N exist")
    seed.add_argument("origin")
    seed.add_argument("--patients", type=int, default=25)
    args = parser.parse_args(argv)

    if args.command == "wait":
        wait(args.url, args.timeout)
    elif args.command == "openemr-register":
        client = openemr_register(args.origin.rstrip("/"))
        print(f"OPENEMR_CONTRACT_CLIENT_ID={client['client_id']}")
        print(f"OPENEMR_CONTRACT_CLIENT_SECRET={client['client_secret']}")
    else:
        total = openemr_seed(args.origin.rstrip("/"), args.patients)
        print(f"{total} patients", file=sys.stderr)


if __name__ == "__main__":
    main()
