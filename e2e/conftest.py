"""End-to-end tests: the running stack (make run) reached only through nginx, as a browser would."""

import os
from pathlib import Path

import pytest
import requests

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
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        yield session
