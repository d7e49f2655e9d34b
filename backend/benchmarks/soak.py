"""Soak: mixed load through nginx on the stack `make run` started, for a long while.

    make run && cd backend && .venv/bin/python benchmarks/soak.py [--minutes 30] [--warmup 3]

Load (stated rates, all from 127.0.0.1, which stays under nginx's per-address limits):
- patient reads: a DOCTOR (API token) reads a patient list page and one patient's record, 3 per second;
- uploads: a RIB uploads a one-instance MR study (new UIDs each time, a known patient), one per 10 s;
  each stored study queues its FHIR ImagingStudy sync, so this is the FHIR sync load too;
- AI jobs: the DOCTOR submits an omics analysis, one per 20 s; each must end COMPLETED;
- websocket clients: 10 signed-in browsers' notification sockets held open for the whole run.
Reported: errors per kind (goal 0: any status other than the expected one, or a job not COMPLETED),
p50/p95 per kind, and the resident memory of each process of the stack cold, after a warm-up of the same
load (--warmup, 3 minutes) and at the end (goal: none grows by more than 20 % after the warm-up).
"""

import argparse
import asyncio
import contextlib
import io
import ssl
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests
import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "e2e"))  # the stack's settings, read as the e2e suite reads them
from stack_env import stack_env  # noqa: E402

PROFILE = ROOT / "ai-server" / "models" / "omics-cox-gse7390" / "1.1.0" / "example-profile.csv"
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the local certificate is self-signed

# What a process of the stack is, from its command line (first match wins).
KINDS = (
    ("gunicorn cdss.wsgi", "gunicorn (Django)"),
    ("daphne", "daphne"),
    ("celery -A cdss worker", "celery worker"),
    ("celery -A cdss beat", "celery beat"),
    ("ai_server.app", "ai-server web"),
    ("ai_server.consumer", "ai-server consumer"),
    ("consume_ai_events", "ai-events consumer"),
    ("nginx", "nginx"),
)


def stack_processes() -> dict[int, tuple[str, int]]:
    """pid -> (kind, RSS in kB) of every process of the stack (matched by command line and checkout)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (proc / "status").read_text()
        except OSError:
            continue
        if str(ROOT) not in cmdline and ".venv/bin" not in cmdline:
            continue
        kind = next((name for pattern, name in KINDS if pattern in cmdline), None)
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        if kind:
            found[int(proc.name)] = (kind, rss)
    return found


def one_instance_study(patient_id: str) -> bytes:
    """A small valid MR instance with fresh UIDs for `patient_id` (16 x 16 pixels)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = patient_id, "Soak^Test", "MR"
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = "20260101", 1, 1, "T1 soak"
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.arange(256, dtype=np.uint16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


class Load:
    def __init__(self, base: str, env: dict[str, str]):
        self.base, self.env = base, env
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.jobs: list[str] = []
        self.lock = threading.Lock()
        self.doctor = self.token_session("doctor")
        self.rib = self.token_session("radiologist")

    def token_session(self, username: str) -> requests.Session:
        session = requests.Session()
        session.verify, session.trust_env = False, False  # else REQUESTS_CA_BUNDLE overrides verify=False
        answer = session.post(
            f"{self.base}/api/auth/token", json={"username": username, "password": self.env["DEMO_PASSWORD"]}
        )
        answer.raise_for_status()
        session.headers["Authorization"] = f"Token {answer.json()['token']}"
        return session

    def call(self, kind: str, expected: int, method, url: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            answer = method(f"{self.base}{url}", timeout=60, **kwargs)
        except requests.RequestException as exc:
            with self.lock:
                self.errors[kind].append(f"{url}: {exc.__class__.__name__}")
            return None
        with self.lock:
            self.latency[kind].append(time.perf_counter() - started)
            if answer.status_code != expected:
                self.errors[kind].append(f"{url}: {answer.status_code} {answer.text[:120]}")
        return answer

    def every(self, seconds: float, until: float, action) -> threading.Thread:
        def loop():
            next_at = time.monotonic()
            while next_at < until:
                action()
                next_at += seconds
                time.sleep(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread


def run(minutes: float, sockets: int, warmup: float) -> int:
    env = stack_env()
    base = f"https://127.0.0.1:{env['HTTPS_PORT']}"
    load = Load(base, env)
    patients = load.doctor.get(f"{base}/api/patients").json()["results"]
    expression = load.doctor.post(
        f"{base}/api/ai/expression-uploads",
        data={"patient": patients[0]["emr_uuid"]},
        files={"file": ("profile.csv", PROFILE.read_bytes(), "text/csv")},
    )
    expression.raise_for_status()
    cold = stack_processes()
    started = time.monotonic()
    until = started + (warmup + minutes) * 60
    counter = iter(range(10**9))

    def read_patient():
        patient = patients[next(counter) % len(patients)]["emr_uuid"]
        load.call("patient list", 200, load.doctor.get, "/api/patients")
        load.call("patient record", 200, load.doctor.get, f"/api/patients/{patient}")

    def upload():
        mrn = patients[next(counter) % len(patients)]["mrn"]
        files = [("files", ("soak.dcm", one_instance_study(mrn), "application/dicom"))]
        load.call("upload", 201, load.rib.post, "/api/radiology/uploads", files=files)

    def ai_job():
        body = {"model": "omics-cox-gse7390", "expression_upload": expression.json()["id"]}
        answer = load.call("AI job submit", 202, load.doctor.post, "/api/ai/jobs", json=body)
        if answer is not None and answer.status_code == 202:
            with load.lock:
                load.jobs.append(answer.json()["id"])

    socket_errors: list[str] = []
    socket_thread = threading.Thread(
        target=lambda: asyncio.run(hold_sockets(base, env, sockets, until, socket_errors)), daemon=True
    )
    socket_thread.start()
    threads = [
        load.every(1 / 3, until, read_patient),
        load.every(10, until, upload),
        load.every(20, until, ai_job),
    ]
    # Memory is compared from the end of the warm-up: a process that has not served a request yet (an
    # upload thread pool, the AI consumer before its first model) grows while it loads, not leaking.
    time.sleep(max(0.0, started + warmup * 60 - time.monotonic()))
    before = stack_processes()
    for thread in threads:
        thread.join()
    socket_thread.join(timeout=30)
    job_errors = wait_for_jobs(load, deadline=time.monotonic() + 300)
    after = stack_processes()
    return report(minutes, warmup, load, job_errors, socket_errors, cold, before, after)


async def hold_sockets(base: str, env: dict[str, str], count: int, until: float, errors: list[str]) -> None:
    """`count` signed-in notification sockets, held open until `until`; a socket closed early is an error."""
    import websockets

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    def cookie_of(username: str) -> str:
        session = requests.Session()
        session.verify, session.trust_env = False, False  # else REQUESTS_CA_BUNDLE overrides verify=False
        token = session.get(f"{base}/api/auth/csrf").json()["csrf_token"]
        session.post(
            f"{base}/api/auth/login",
            json={"username": username, "password": env["DEMO_PASSWORD"]},
            headers={"X-CSRFToken": token, "Referer": f"{base}/"},
        ).raise_for_status()
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)

    async def hold(cookie: str) -> None:
        url = base.replace("https://", "wss://") + "/ws/notifications/"
        try:
            headers = {"Cookie": cookie, "Origin": base}
            async with websockets.connect(url, ssl=context, additional_headers=headers) as ws:
                while time.monotonic() < until:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ws.recv(), timeout=max(0.1, min(5.0, until - time.monotonic())))
        except Exception as exc:  # any way a socket ends early is the error being measured
            errors.append(f"websocket: {exc.__class__.__name__}: {exc}")

    cookies = [cookie_of(("doctor", "radiologist", "nurse")[i % 3]) for i in range(count)]
    await asyncio.gather(*(hold(cookie) for cookie in cookies))


def wait_for_jobs(load: Load, deadline: float) -> list[str]:
    """Each job's end state, asked at 4 requests/s: under nginx's per-address limit (10 r/s), which the
    load above respects too (a 429 here would be this script's doing, not the stack's)."""
    errors, pending = [], list(load.jobs)
    while pending and time.monotonic() < deadline:
        still = []
        for job_id in pending:
            time.sleep(0.25)
            answer = load.doctor.get(f"{load.base}/api/ai/jobs/{job_id}")
            if answer.status_code != 200:
                errors.append(f"job {job_id}: GET answered {answer.status_code}")
                continue
            state = answer.json()
            if state["status"] in ("QUEUED", "RUNNING"):
                still.append(job_id)
            elif state["status"] != "COMPLETED":
                errors.append(f"job {job_id} ended {state['status']}: {state.get('failure_reason')}")
        pending = still
        time.sleep(2)
    return errors + [f"job {job_id} not finished 300 s after the load stopped" for job_id in pending]


def report(minutes, warmup, load, job_errors, socket_errors, cold, before, after) -> int:
    print(f"soak: {warmup:g} minutes of warm-up, then {minutes:g} minutes of mixed load through nginx")
    print("  requests, errors and latencies cover both")
    print(f"  {'kind':<16} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7}")
    for kind, values in sorted(load.latency.items()):
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(
            f"  {kind:<16} {len(values):>8} {len(load.errors[kind]):>6} "
            f"{statistics.median(values) * 1000:>7.0f} {p95 * 1000:>7.0f}"
        )
    print(f"  AI jobs submitted {len(load.jobs)}, not COMPLETED: {len(job_errors)}")
    print(f"  websocket clients ended early: {len(socket_errors)}")
    errors = [e for kind in load.errors.values() for e in kind] + job_errors + socket_errors
    for error in errors[:20]:
        print(f"    {error}")
    print("  resident memory per process (kB): cold, at the end of the warm-up -> end (growth since warm-up)")
    grown = []
    for pid, (kind, rss) in sorted(before.items(), key=lambda item: item[1][0]):
        if pid not in after:
            print(f"    {kind:<20} pid {pid:<7} {cold.get(pid, ('', 0))[1]:>8} {rss:>8} -> gone (restarted?)")
            grown.append(pid)
            continue
        end = after[pid][1]
        growth = (end - rss) / rss * 100 if rss else 0.0
        grown += [pid] if growth > 20 else []
        print(f"    {kind:<20} pid {pid:<7} {cold.get(pid, ('', 0))[1]:>8} {rss:>8} -> {end:>8} ({growth:+.1f} %)")
    print(f"  errors: {len(errors)} (goal 0); processes grown > 20 % or gone: {len(grown)} (goal 0)")
    return 0 if not errors and not grown else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=3, help="minutes of the same load before memory is read")
    parser.add_argument("--sockets", type=int, default=10)
    args = parser.parse_args()
    return run(args.minutes, args.sockets, args.warmup)


if __name__ == "__main__":
    sys.exit(main())
