"""End-to-end tests: the running stack (make run) reached only through nginx, as a browser would.

The local run serves HTTPS with a self-signed certificate (unless .env names one), so the clients here
do not verify it; e2e/test_edge.py checks what the certificate and the redirect look like instead.
"""

import os
import ssl
from pathlib import Path

import pytest
import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = Path(__file__).resolve().parents[1]


def _dotenv() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return {**_dotenv(), **os.environ}


@pytest.fixture(scope="session")
def base_url(env) -> str:
    return f"https://127.0.0.1:{env['HTTPS_PORT']}"


@pytest.fixture(scope="session")
def http_url(env) -> str:
    """The plain-HTTP port, which only redirects to HTTPS."""
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """For websockets over TLS to the self-signed local certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        session.verify = False
        # Otherwise REQUESTS_CA_BUNDLE in the environment overrides verify=False (requests' merge order).
        session.trust_env = False
        yield session


@pytest.fixture
def token_headers(http, base_url, env):
    """token_headers("doctor") -> the Authorization header of a fresh API token for that demo account."""

    def issue(username: str) -> dict[str, str]:
        response = http.post(
            f"{base_url}/api/auth/token", json={"username": username, "password": env["DEMO_PASSWORD"]}, timeout=10
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Token {response.json()['token']}"}

    return issue
