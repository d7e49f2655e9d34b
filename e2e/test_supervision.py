"""supervisord keeps the stack up (deploy/supervisor/): a process killed outright (SIGKILL, as the OOM killer
does) comes back on its own, nothing else is restarted, the site keeps answering, and the restart is
counted in /metrics (cdss_process_restarts_total, read by the ProcessCrashLooping alert).

Works on the stack `make run` started; kills one process at a time and waits until it is back.
"""

import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "var" / "run"
METRICS = "http://127.0.0.1:8002/metrics"  # nginx's loopback listener, as the local Prometheus scrapes
# What Django's /metrics does with the multiprocess folder, for a private one.
READ_METRICS = """
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def programs() -> dict[str, tuple[str, int | None]]:
    """supervisorctl status: program -> (state, pid)."""
    out = subprocess.run(  # noqa: S603 - the project's own script, fixed arguments
        [str(ROOT / "scripts" / "ctl.sh"), "status"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        name, state = line.split()[:2]
        pid = re.search(r"pid (\d+)", line)
        found[name.split(":")[-1]] = (state, int(pid.group(1)) if pid else None)
    return found


def restarts(process: str) -> float:
    text = requests.get(METRICS, timeout=10).text
    match = re.search(rf'cdss_process_restarts_total{{event="exited",process="{process}"}} ([0-9.e+]+)', text)
    return float(match.group(1)) if match else 0.0


def live_colour() -> str:
    path = RUN / "colour"
    return path.read_text().strip() if path.exists() else "blue"


def group_members(pgid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return found.stdout.split()


def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


class Prober(threading.Thread):
    """GETs each URL every 0.5 s until stopped; keeps what did not answer 200. A 429 is nginx answering by
    its per-address rate policy (the test's own polling shares 127.0.0.1): the site is up, so it is
    counted apart, not as a failure."""

    def __init__(self, urls: list[str]):
        super().__init__(daemon=True)
        self.urls, self.stop, self.sent, self.failures = urls, threading.Event(), 0, []
        self.throttled = 0

    def run(self) -> None:
        with requests.Session() as session:
            session.verify, session.trust_env = False, False
            while not self.stop.is_set():
                for url in self.urls:
                    try:
                        status = session.get(url, timeout=10).status_code
                    except requests.RequestException as error:
                        status = error.__class__.__name__
                    self.sent += 1
                    if status == 429:
                        self.throttled += 1
                    elif status != 200:
                        self.failures.append(f"{url}: {status}")
                time.sleep(0.5)  # under nginx's per-address rate (the whole e2e run shares 127.0.0.1)

    def assert_up(self, failures_allowed: int = 0) -> None:
        answered = self.sent - self.throttled - len(self.failures)
        assert len(self.failures) <= failures_allowed and answered > 0, (
            f"{len(self.failures)} of {self.sent} failed, {self.throttled} throttled (429): {self.failures[:5]}"
        )


def kill_and_wait(program: str, seconds: float = 90) -> tuple[dict, dict]:
    """SIGKILL the program's process; return (status before, status once it runs again with a new pid)."""
    before = programs()
    state, pid = before[program]
    assert state == "RUNNING" and pid, before[program]
    subprocess.run(["kill", f"-{signal.SIGKILL.value}", str(pid)], check=True)  # noqa: S603, S607
    wait_until(lambda: programs()[program][0] == "RUNNING" and programs()[program][1] != pid, seconds, program)
    return before, programs()


def unchanged_others(before: dict, after: dict, killed: str) -> dict:
    return {name: (before[name], after[name]) for name in before if name != killed and before[name] != after[name]}


@pytest.mark.timeout(180)
def test_sigkill_of_the_ai_worker_restarts_it_and_nothing_else(base_url):
    counted = restarts("ai-worker")
    prober = Prober([f"{base_url}/health", f"{base_url}/api/docs"])
    prober.start()
    try:
        before, after = kill_and_wait("ai-worker")
    finally:
        prober.stop.set()
        prober.join(timeout=20)
    assert unchanged_others(before, after, "ai-worker") == {}, "another process was restarted or stopped"
    prober.assert_up()
    assert prober.sent >= 5
    wait_until(lambda: restarts("ai-worker") >= counted + 1, 30, "the restart in /metrics")


@pytest.mark.timeout(180)
def test_sigkill_of_the_gunicorn_master_restarts_the_api_pool_alone(base_url):
    colour = live_colour()
    program = f"{colour}-web"
    ports = {"blue": (8001, 8003), "green": (8011, 8013)}[colour]  # daphne, upload pool (scripts/_app.sh)
    # The other processes of the colour answer throughout; the API pool itself is down until it is back.
    prober = Prober([f"http://127.0.0.1:{port}/health" for port in ports])
    prober.start()
    try:
        before, after = kill_and_wait(program)
        old = before[program][1]
        wait_until(lambda: group_members(old) == [], 30, "the killed master's workers to be gone")
        with requests.Session() as http:
            http.verify, http.trust_env = False, False
            wait_until(lambda: http.get(f"{base_url}/health", timeout=10).status_code == 200, 60, "the API back")
            assert http.get(f"{base_url}/api/auth/me", timeout=10).status_code in (401, 403)
    finally:
        prober.stop.set()
        prober.join(timeout=20)
    assert unchanged_others(before, after, program) == {}, "another process was restarted or stopped"
    prober.assert_up()
    assert restarts(program) >= 1


# Every other kind of process of the stack (the AI worker and the API pool are above): each comes back
# with a new pid, nothing else is restarted, and the API keeps answering through nginx meanwhile.
OTHER_KINDS = ["worker", "beat", "ai-events", "ai", "ws", "upload"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", OTHER_KINDS)
def test_sigkill_of_each_other_process_restarts_it_alone_while_the_site_answers(base_url, kind):
    program = f"{live_colour()}-{kind}" if kind in ("ws", "upload") else kind
    prober = Prober([f"{base_url}/health", f"{base_url}/api/docs"])
    prober.start()
    try:
        before, after = kill_and_wait(program)
    finally:
        prober.stop.set()
        prober.join(timeout=20)
    assert unchanged_others(before, after, program) == {}, "another process was restarted or stopped"
    prober.assert_up()


@pytest.mark.timeout(120)
def test_sigkill_of_one_api_worker_is_replaced_by_its_master_and_the_api_keeps_answering(base_url):
    colour = live_colour()
    program = f"{colour}-web"
    master = programs()[program][1]
    workers = [pid for pid in group_members(master) if int(pid) != master]
    assert workers, "the API pool has workers"
    prober = Prober([f"{base_url}/health", f"{base_url}/api/docs"])
    prober.start()
    try:
        subprocess.run(["kill", f"-{signal.SIGKILL.value}", workers[0]], check=True)  # noqa: S603, S607
        wait_until(lambda: workers[0] not in group_members(master) and len(group_members(master)) > len(workers),
                   60, "the master to start a new worker")  # fmt: skip
    finally:
        prober.stop.set()
        prober.join(timeout=20)
    assert programs()[program] == ("RUNNING", master), "the master itself was not restarted"
    # The killed worker's own request (if it held one) may fail; the others served everyone else.
    prober.assert_up(failures_allowed=1)


@pytest.mark.timeout(420)
def test_ai_jobs_in_flight_complete_once_across_kills_of_the_worker_and_the_event_consumer(
    http, base_url, token_headers, expression_upload
):
    """Omics jobs submitted, then the AI worker and the AI event consumer killed while they run: every
    job ends COMPLETED with one result, none twice (attempts counted by the CDSS stay within the limit)."""
    doctor = token_headers("doctor")
    patient = http.get(f"{base_url}/api/patients", headers=doctor, timeout=10).json()["results"][0]
    jobs = []
    for _ in range(3):
        body = {"model": "omics-cox-gse7390", "expression_upload": expression_upload(doctor, patient["emr_uuid"])}
        submitted = http.post(f"{base_url}/api/ai/jobs", headers=doctor, timeout=10, json=body)
        assert submitted.status_code == 202, submitted.text
        jobs.append(submitted.json()["id"])
    kill_and_wait("ai-worker")
    kill_and_wait("ai-events")
    deadline = time.monotonic() + 300
    finished = {}
    while len(finished) < len(jobs) and time.monotonic() < deadline:
        for job_id in set(jobs) - set(finished):
            job = http.get(f"{base_url}/api/ai/jobs/{job_id}", headers=doctor, timeout=10).json()
            if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                finished[job_id] = job
        time.sleep(1)
    assert len(finished) == len(jobs), f"not finished in 300 s: {set(jobs) - set(finished)}"
    for job in finished.values():
        assert job["status"] == "COMPLETED", job
        assert job["attempts"] <= 3 and job["result"]["raw_metrics"]["risk_group"], job


def test_a_process_that_keeps_dying_at_start_is_given_up_on_and_counted(tmp_path):
    """A private supervisord with the project's event listener and a program that dies at each start:
    after startretries failed starts it is FATAL, and the metrics say so (the ProcessGaveUp alert)."""
    venv = ROOT / "backend" / ".venv" / "bin"
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""[unix_http_server]
file={tmp_path}/s.sock
[supervisord]
pidfile={tmp_path}/s.pid
logfile={tmp_path}/s.log
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp_path}/s.sock
[program:flaky]
command=/bin/sh -c "sleep 0.2; exit 1"
startsecs=2
startretries=2
[eventlistener:process-events]
command={venv}/python {ROOT}/deploy/supervisor/process_events.py
environment=PROMETHEUS_MULTIPROC_DIR="{tmp_path}"
events=PROCESS_STATE
"""
    )
    ctl = [str(venv / "supervisorctl"), "-c", str(conf)]
    subprocess.run([str(venv / "supervisord"), "-c", str(conf)], check=True, timeout=30)  # noqa: S603
    try:
        status = lambda: subprocess.run([*ctl, "status", "flaky"], capture_output=True, text=True).stdout  # noqa: E731, S603
        wait_until(lambda: "FATAL" in status(), 60, "flaky to be given up on")
        metrics = subprocess.run(  # noqa: S603
            [str(venv / "python"), "-c", READ_METRICS],
            env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run([*ctl, "shutdown"], capture_output=True, timeout=60, check=False)  # noqa: S603
    assert 'cdss_process_restarts_total{event="start_failed",process="flaky"} 3.0' in metrics, metrics
    assert 'cdss_process_gave_up{process="flaky"} 1.0' in metrics, metrics


def test_the_systemd_units_for_application_hosts_verify(tmp_path):
    """deploy/systemd/ as the runbook installs it (placeholders filled), checked by systemd-analyze."""
    analyze = subprocess.run(["which", "systemd-analyze"], capture_output=True, text=True, check=False)  # noqa: S607
    if analyze.returncode != 0:
        pytest.skip("systemd-analyze is not installed")
    source = ROOT / "deploy" / "systemd"
    for path in source.rglob("*"):
        target = tmp_path / path.relative_to(source)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_text(path.read_text().replace("@ROOT@", str(ROOT)).replace("@USER@", "root"))
    units = ["cdss.target", *(f"cdss@{name}.service" for name in ("worker", "nginx", "ai-worker", "blue-upload"))]
    for unit in units[1:]:  # an instance of the template, as systemd reads it from the unit path
        (tmp_path / unit).write_text((tmp_path / "cdss@.service").read_text())
    result = subprocess.run(  # noqa: S603
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / unit) for unit in units)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # systemd before 254 does not know the back-off keys yet; it says so and ignores them.
    problems = [
        line
        for line in result.stderr.splitlines()
        if line and not re.search(r"Unknown key '(RestartSteps|RestartMaxDelaySec)'", line)
    ]
    assert result.returncode == 0 and problems == [], result.stderr


def test_the_ai_server_processes_hold_only_their_own_settings(env):
    """They parse untrusted DICOM (scripts/process.sh, exec_ai_server): none of the database, Django,
    Redis, audit, other broker or other object-store secrets of .env is in their environment, and they
    sign in to RabbitMQ and to the object store with the ai-server's own accounts."""
    others = {"DATABASE_URL", "DATABASE_OWNER_URL", "DJANGO_SECRET_KEY", "REDIS_PASSWORD", "AUDIT_CHECKPOINT_KEY"}
    others |= {f"{kind}_RABBITMQ_URL" for kind in ("WEB", "WORKER", "BEAT", "EVENTS")}
    others |= {f"{account}_SECRET_KEY" for account in ("APP_S3", "BACKUP_S3", "MODELS_S3", "S3_ADMIN")}
    secrets = {env[name] for name in others if env.get(name)}
    for program in ("ai", "ai-worker"):
        # RUNNING (up for startsecs): process.sh has exec'd the server, whose environment is the one to read.
        wait_until(lambda program=program: programs()[program][0] == "RUNNING", 90, program)
        pid = programs()[program][1]
        environ = dict(
            item.decode().partition("=")[::2] for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if item
        )
        assert not others & environ.keys(), program
        assert not any(secret in value for secret in secrets for value in environ.values()), program
        assert environ["RABBITMQ_URL"] == env["AI_RABBITMQ_URL"], program
        assert environ["S3_ACCESS_KEY"] == env["AI_S3_ACCESS_KEY"], program
        assert environ["S3_SECRET_KEY"] == env["AI_S3_SECRET_KEY"], program
