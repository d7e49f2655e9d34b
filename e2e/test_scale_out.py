"""Scale-out across hosts (docs/scale-out.md), the hosts made of Linux network namespaces by scripts/netns.sh:
this machine's namespace is the data host (MariaDB, Redis, RabbitMQ, Orthanc, the object store and the
stand-ins, reached through its bridge address only); a web host runs the API and the AI-event consumer; two
worker hosts each run a Celery worker and an AI consumer. Every address the hosts use comes from their
settings (the data host's, never loopback: a host's loopback has nothing behind it).

AI jobs and FHIR syncs spread over both worker hosts. Then, while one worker host holds an AI job (Orthanc
held still, so it cannot finish) and FHIR syncs (the HAPI stand-in answering slowly), that host's network
is cut: RabbitMQ gives its unacknowledged messages to the other host, and every job and sync completes
exactly once (one result, one FHIR resource per entity). The distribution of work per host is printed.

Needs root and `ip netns` (CI runs as root). The stack's own Celery worker, AI consumer and AI-event
consumer are stopped meanwhile, so that only the hosts take work, and started again after; the hosts and
the data host's relay are removed whatever the outcome, so nothing listens beyond loopback afterwards.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

# the hosts' start (some 30 s on 2 cores) counts against the first test, a lesion series' upload against the second
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
NETNS = ROOT / "scripts" / "netns.sh"
CTL = ROOT / "scripts" / "ctl.sh"
EXAMPLE_PROFILE = ROOT / "ai-server" / "models" / "omics-cox-gse7390" / "1.1.0" / "example-profile.csv"
WORKERS = ("worker-a", "worker-b")
PROCESSES = {"web": ("blue-web", "ai-events"), "worker-a": ("worker", "ai-worker"), "worker-b": ("worker", "ai-worker")}
STACK_CONSUMERS = ("worker", "ai-worker", "ai-events")  # the stack's own, stopped while the hosts work
API_PORT = 8000  # the blue colour's API port (scripts/_app.sh colour_ports)
# The hosts' tuning for this run: a lost host is noticed within seconds; one FHIR entity per Bundle, so each
# sync task is one unit of work; one API worker and one torch thread each, on a 2-core machine.
HOST_SETTINGS = {
    "RABBITMQ_HEARTBEAT_SECONDS": "5",
    "FHIR_BUNDLE_MAX_ENTRIES": "1",
    "APP_WORKERS": "1",
    "AI_TORCH_THREADS": "1",
}
TAKEN = re.compile(r"job (\S+): delivery (\d+) taken on (\S+)")
STORED = re.compile(r"job (\S+): (\w+) result stored")
SYNC = re.compile(r"Task fhir_sync\.sync_entity\[([0-9a-f-]+)\] (received|succeeded)")


def run(*command: str, timeout: float = 120) -> str:
    return subprocess.run(  # noqa: S603 - the project's own scripts
        [str(c) for c in command], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def netns_available() -> str | None:
    """Why the hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("ip") or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode:  # noqa: S607
        return "`ip netns` (iproute2) is not available"
    return None


class Hosts:
    def __init__(self, logs: Path):
        self.logs, self.procs = logs, []
        self.address = {host: run(NETNS, "address", host).strip() for host in ("data", "web", *WORKERS)}

    def start(self, host: str, name: str) -> None:
        log = (self.logs / f"{host}.{name}.log").open("w")
        self.procs.append(
            subprocess.Popen(  # noqa: S603
                [str(NETNS), "exec", host, str(ROOT / "scripts" / "process.sh"), name],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **HOST_SETTINGS},
                start_new_session=True,
            )
        )

    def log(self, host: str, name: str) -> str:
        return (self.logs / f"{host}.{name}.log").read_text(errors="replace")

    def ai_log(self, host: str) -> str:
        return self.log(host, "ai-worker")

    def celery_log(self, host: str) -> str:
        return self.log(host, "worker")

    @property
    def api(self) -> str:
        return f"http://{self.address['web']}:{API_PORT}"


def wait_until(predicate, seconds: float, what: str, period: float = 0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(period)
    pytest.fail(f"{what}: not within {seconds} s")


@pytest.fixture(scope="module")
def hosts():
    """The data host's relay and three hosts, their processes started; all of it removed after."""
    if reason := netns_available():
        pytest.skip(reason)
    supervise("stop")
    try:
        run(NETNS, "up")
        logs = ROOT / "var" / "log" / "scale-out"  # one log per host and process, kept for a look after
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
        made = Hosts(logs)
        for host, names in PROCESSES.items():
            for name in names:
                made.start(host, name)
        for host in WORKERS:
            wait_until(lambda h=host: f"celery@{h} ready" in made.celery_log(h), 90, f"the Celery worker of {host}")
            wait_until(lambda h=host: "consuming ai_jobs" in made.ai_log(h), 90, f"the AI consumer of {host}")
        wait_until(lambda: _answers(made.api), 90, "the web host's API")
        yield made
    finally:
        with contextlib.suppress(Exception):
            print(run(NETNS, "status"))
        run(NETNS, "down")
        for proc in made.procs if "made" in locals() else []:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        supervise("start")


def supervise(action: str) -> None:
    """The stack's own consumers (a program already in that state is no error), side by side: supervisorctl
    waits out each named program's startsecs in turn (10 s each)."""
    runs = [
        subprocess.Popen([str(CTL), action, name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
        for name in STACK_CONSUMERS
    ]
    for done in runs:
        print(done.communicate(timeout=120)[0])


def _answers(api: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{api}/health", timeout=3).status_code == 200
    return False


@pytest.fixture(scope="module")
def api(hosts, env):
    """A session on the web host's API (plain HTTP on the hosts' network; TLS ends at the proxy in front),
    signed in as the doctor with a token."""
    with requests.Session() as http:
        http.trust_env = False
        token = http.post(
            f"{hosts.api}/api/auth/token",
            json={"username": "doctor", "password": env["DEMO_PASSWORD"]},
            timeout=10,
        )
        assert token.status_code == 201, token.text
        http.headers["Authorization"] = f"Token {token.json()['token']}"
        yield http


def fhir_count(env, resource: str, system: str, value) -> int:
    found = requests.get(
        f"{env['FHIR_BASE_URL']}/{resource}",
        params={"identifier": f"{system}|{value}"},
        headers={"Accept": "application/fhir+json", "Cache-Control": "no-cache"},
        timeout=10,
    )
    found.raise_for_status()
    return found.json()["total"]


def fhir_faults(env, faults: dict | None) -> None:
    origin = re.match(r"^\w+://[^/]+", env["FHIR_BASE_URL"]).group(0)
    if faults:
        requests.post(f"{origin}/__control__/faults", json=faults, timeout=5).raise_for_status()
    else:
        requests.delete(f"{origin}/__control__/faults", timeout=5).raise_for_status()


def wait_jobs(api, hosts, job_ids: list[str], seconds: float = 120) -> dict[str, dict]:
    done: dict[str, dict] = {}

    def finished():
        for job_id in set(job_ids) - set(done):
            job = api.get(f"{hosts.api}/api/ai/jobs/{job_id}", timeout=10).json()
            if job["status"] not in ("QUEUED", "RUNNING"):
                done[job_id] = job
        return len(done) == len(job_ids)

    wait_until(finished, seconds, f"AI jobs {sorted(set(job_ids) - set(done))} finished", period=1)
    return done


def create_orders(api, hosts, patient: str, count: int, reason: str) -> list[int]:
    ids = []
    for n in range(count):
        made = api.post(
            f"{hosts.api}/api/radiology/orders",
            json={"patient": patient, "modality": "MR", "body_part": "BRAIN", "reason": f"{reason} {n}"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


def order_syncs(env, order_ids: list[int]) -> dict[int, int]:
    return {pk: fhir_count(env, "ServiceRequest", "urn:cdss:fhir:service-request", pk) for pk in order_ids}


def distribution(hosts) -> dict[str, dict[str, int]]:
    """Per worker host: AI deliveries taken, AI results stored, FHIR sync tasks done."""
    return {
        host: {
            "ai deliveries": len(TAKEN.findall(hosts.ai_log(host))),
            "ai results": len(STORED.findall(hosts.ai_log(host))),
            "fhir syncs": sum(1 for _, what in SYNC.findall(hosts.celery_log(host)) if what == "succeeded"),
        }
        for host in WORKERS
    }


def print_distribution(title: str, hosts) -> dict:
    counts = distribution(hosts)
    print(f"\n{title}\n  {'host':9} {'ai deliveries':>14} {'ai results':>11} {'fhir syncs':>11}")
    for host, row in counts.items():
        print(f"  {host:9} {row['ai deliveries']:>14} {row['ai results']:>11} {row['fhir syncs']:>11}")
    return counts


def test_jobs_and_syncs_spread_over_both_worker_hosts(hosts, api, env):
    patients = api.get(f"{hosts.api}/api/patients", timeout=10).json()["results"]
    upload = api.post(
        f"{hosts.api}/api/ai/expression-uploads",
        data={"patient": patients[0]["emr_uuid"]},
        files={"file": ("profile.csv", EXAMPLE_PROFILE.read_bytes(), "text/csv")},
        timeout=30,
    )
    assert upload.status_code == 201, upload.text
    job_ids = []
    for _ in range(8):
        submitted = api.post(
            f"{hosts.api}/api/ai/jobs",
            json={"model": "omics-cox-gse7390", "expression_upload": upload.json()["id"]},
            timeout=10,
        )
        assert submitted.status_code == 202, submitted.text
        job_ids.append(submitted.json()["id"])
    orders = create_orders(api, hosts, patients[0]["emr_uuid"], 6, "scale-out spread")

    jobs = wait_jobs(api, hosts, job_ids)
    assert {job["status"] for job in jobs.values()} == {"COMPLETED"}, jobs
    wait_until(lambda: set(order_syncs(env, orders).values()) == {1}, 60, "every order written to FHIR once")

    taken_by = {}
    for host in WORKERS:
        for job_id, _, named in TAKEN.findall(hosts.ai_log(host)):
            assert named == host, f"{host}'s consumer calls itself {named}"  # a host of its own
            taken_by[job_id] = host
    assert set(job_ids) <= set(taken_by), "every job was taken by a worker host"
    data = hosts.address["data"]
    for host in ("web", *WORKERS):  # each host works through the data host's address, and only through it
        peers = remote_peers(host)
        print(f"  {host} is connected to", sorted(peers))
        assert {address for address, _ in peers} == {data}, peers
        assert (data, "5672") in peers, f"{host} holds its RabbitMQ connection to {data}"
    counts = print_distribution("work per worker host after the spread (8 AI jobs, 6 orders, their syncs)", hosts)
    print("  AI jobs of this test per host:", dict(Counter(taken_by[j] for j in job_ids)))
    for host in WORKERS:
        assert counts[host]["ai results"] >= 1, f"{host} computed no AI job: {counts}"
        assert counts[host]["fhir syncs"] >= 1, f"{host} ran no FHIR sync: {counts}"


def test_a_worker_host_cut_mid_job_hands_its_work_to_the_other(hosts, api, env, lesion_study):
    orthanc_pid = int((ROOT / "var" / "run" / "orthanc.pid").read_text())
    fhir_faults(env, {"latency_ms": 3000})
    os.kill(orthanc_pid, signal.SIGSTOP)  # the PACS holds still: the job's host cannot get past fetching
    try:
        submitted = api.post(
            f"{hosts.api}/api/ai/jobs", json={"model": "mri-lesion-demo", "study": lesion_study["id"]}, timeout=10
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        cut = wait_until(lambda: next(iter(takers(hosts, job_id)), None), 60, "the MRI job taken by a worker host")
        other = next(h for h in WORKERS if h != cut)
        # FHIR syncs in flight on that host too: orders until it holds one the slow FHIR server has not answered
        orders, since = [], len(hosts.celery_log(cut))
        for _ in range(10):
            orders += create_orders(api, hosts, lesion_study["patient"]["emr_uuid"], 2, "scale-out cut")
            time.sleep(0.5)
            if unfinished_syncs(hosts.celery_log(cut)[since:]):
                break
        run(NETNS, "cut", cut)
        # read after the cut: Celery logs a task's success before it acknowledges the task, so one with no
        # success logged by now was not acknowledged
        in_flight = unfinished_syncs(hosts.celery_log(cut)[since:])
        assert in_flight, f"{cut} held no FHIR sync when it was cut"
        print(f"\ncut {cut} off the network holding AI job {job_id} and FHIR syncs {sorted(in_flight)}")
    finally:
        os.kill(orthanc_pid, signal.SIGCONT)
    fhir_faults(env, None)

    cut_at = time.monotonic()
    job = wait_jobs(api, hosts, [job_id], seconds=120)[job_id]
    print(f"  the MRI job finished {time.monotonic() - cut_at:.1f} s after the cut: {job['status']}")
    assert job["status"] == "COMPLETED", job
    other_log = hosts.ai_log(other)
    assert other in takers(hosts, job_id), "the cut host's job redelivered to the other host"
    assert f"job {job_id}: COMPLETED result stored" in other_log
    assert f"job {job_id}: COMPLETED result stored" not in hosts.ai_log(cut), "the cut host never finished it"
    # exactly once: one result (a one-to-one row), its artifacts each once, one DiagnosticReport in FHIR
    names = [artifact["name"] for artifact in job["result"]["artifacts"]]
    assert len(names) == len(set(names)) and "seg" in names, names
    wait_until(
        lambda: fhir_count(env, "DiagnosticReport", "urn:cdss:fhir:diagnostic-report", job["result"]["id"]) == 1,
        60,
        "the job's DiagnosticReport in FHIR",
    )

    wait_until(lambda: in_flight <= done_syncs(hosts.celery_log(other)), 90, "the cut host's syncs done elsewhere")
    wait_until(lambda: set(order_syncs(env, orders).values()) == {1}, 60, "every order written to FHIR")
    time.sleep(2)  # a late second write would show now
    syncs = order_syncs(env, orders)
    assert set(syncs.values()) == {1}, f"FHIR ServiceRequests per order: {syncs}"
    counts = print_distribution("work per worker host after the cut (the whole run)", hosts)
    print(f"  {cut}'s FHIR syncs redelivered to {other}: {len(in_flight)}; orders of this test: {len(orders)}")
    assert counts[other]["ai results"] >= 1 and counts[other]["fhir syncs"] >= len(in_flight), counts


def takers(hosts, job_id: str) -> list[str]:
    """The worker hosts that took a delivery of the job (by the delivery count the queue gave)."""
    deliveries = sorted(
        (int(delivery), host)
        for host in WORKERS
        for taken, delivery, _ in TAKEN.findall(hosts.ai_log(host))
        if taken == job_id
    )
    return [host for _, host in deliveries]


def remote_peers(host: str) -> set[tuple[str, str]]:
    """(address, port) of the other ends of HOST's established TCP connections that leave the host."""
    out = run(NETNS, "exec", host, "ss", "-Htn", "state", "established")
    peers = {tuple(line.split()[3].rsplit(":", 1)) for line in out.splitlines()}
    return {(address, port) for address, port in peers if not address.startswith(("127.", "[::1]"))}


def unfinished_syncs(log: str) -> set[str]:
    received = {task for task, what in SYNC.findall(log) if what == "received"}
    return received - done_syncs(log)


def done_syncs(log: str) -> set[str]:
    return {task for task, what in SYNC.findall(log) if what == "succeeded"}
