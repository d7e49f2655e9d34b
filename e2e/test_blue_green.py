"""Blue-green deploy and rollback (scripts/deploy.sh) while a client keeps sending requests through nginx.

Works on the stack `make run` started: deploys the current checkout to the colour that is not live, then
rolls back to the live one, and ends in the state it found (the same colour live, the other stopped).
Not one request may fail during either switch. The figures go to var/log/test-blue-green.json.
"""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "var" / "run"
LOG = ROOT / "var" / "log"
DEPLOY = ROOT / "scripts" / "deploy.sh"
# A short drain keeps the test quick; a long rollback window, because the test rolls back itself.
DEPLOY_ENV = {"DEPLOY_DRAIN_SECONDS": "2", "DEPLOY_KEEP_PREVIOUS_SECONDS": "600", "DEPLOY_READY_TIMEOUT": "90"}


def live_colour() -> str:
    path = RUN / "colour"
    return path.read_text().strip() if path.exists() else "blue"


def alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError):
        return False
    return state != "Z"


def running(colour: str) -> bool:
    return alive(RUN / f"{colour}-web.pid") and alive(RUN / f"{colour}-ws.pid")


def deploy(*args: str) -> None:
    result = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [str(DEPLOY), *args],
        env={**os.environ, **DEPLOY_ENV},
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert result.returncode == 0, f"deploy.sh {' '.join(args)}:\n{result.stdout}\n{result.stderr}"


def served(colour: str, what: str) -> int:
    """How many requests for WHAT the colour's gunicorn ("web") or daphne ("ws") has logged."""
    kind, _, path = what.partition(" ")
    log = LOG / f"{colour}-{kind}.log"
    return log.read_text(errors="replace").count(path) if log.exists() else 0


def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Client(threading.Thread):
    """GETs URL over and over on one keep-alive session, as a browser would, and counts what fails."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.sent = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with requests.Session() as session:
            session.verify = False
            session.trust_env = False
            while not self.stop.is_set():
                try:
                    response = session.get(self.url, timeout=15)
                    if response.status_code != 200:
                        self.failures.append(f"{time.time():.3f} HTTP {response.status_code}")
                except requests.RequestException as error:
                    self.failures.append(f"{time.time():.3f} {error!r}")
                self.sent += 1
                time.sleep(0.02)


@pytest.mark.timeout(300)  # usually 15-25 s; a loaded machine may take minutes to boot a colour
def test_switch_and_rollback_under_load_lose_no_request(base_url, http):
    live = live_colour()
    other = "green" if live == "blue" else "blue"
    assert running(live), f"the live colour {live} is not running (scripts/deploy.sh --status)"
    if running(other):
        pytest.skip(f"{other} is up: a deploy's rollback window is open, and this test would end it")

    client = Client(f"{base_url}/health")
    started = time.monotonic()
    client.start()
    figures = {}
    try:
        wait_until(lambda: client.sent >= 20, 20, "the client's first requests")

        before = client.sent
        deploy(other)
        figures["deploy"] = {"requests": client.sent - before}
        assert live_colour() == other and running(live) and running(other)
        # Traffic now reaches the new colour: HTTP at its gunicorn, /ws/ at its daphne.
        reached = served(other, "web /health")
        wait_until(lambda: served(other, "web /health") >= reached + 20, 30, f"requests reaching {other}")
        http.get(f"{base_url}/ws/notifications/", timeout=10)
        wait_until(lambda: served(other, "ws /ws/notifications/") > 0, 10, f"/ws/ reaching {other}'s daphne")

        before = client.sent
        deploy("--rollback")
        figures["rollback"] = {"requests": client.sent - before}
        assert live_colour() == live and running(live) and not running(other)
        reached = served(live, "web /health")
        wait_until(lambda: served(live, "web /health") >= reached + 20, 30, f"requests reaching {live} again")
    finally:
        client.stop.set()
        client.join(timeout=20)
        # Leave the stack as it was found, whatever failed above.
        if live_colour() != live:
            deploy("--rollback")
        if running(other):
            deploy("--confirm")
        figures.update(
            requests=client.sent,
            failed=len(client.failures),
            failures=client.failures[:20],
            seconds=round(time.monotonic() - started, 1),
        )
        LOG.mkdir(parents=True, exist_ok=True)
        (LOG / "test-blue-green.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert client.failures == [], f"{len(client.failures)} of {client.sent} requests failed: {client.failures[:10]}"
    assert client.sent >= 100, client.sent
