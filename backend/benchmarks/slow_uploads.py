"""Slow uploads must not starve the API: GET /api/auth/me latency through nginx, (a) alone and (b) while
20 signed-in uploads each send their body at a few kB/s, on the stack `make run` started.

    make run && cd backend && .venv/bin/python benchmarks/slow_uploads.py [--uploads 20] [--rate 4096]
                                                       [--seconds 30] [--me-rate 5] [--before]

Every request goes from 127.0.0.1 through nginx (HTTPS). nginx's `api` zone allows 10 requests/s per
address (burst 20): /me is asked --me-rate times a second (5, under the limit) on one keep-alive session,
and the uploads start 0.2 s apart, so no request here is refused for the rate. Each upload is one DICOM
instance (--rate bytes/s x (--seconds + 15) bytes, a new study of a demo patient) sent over a socket of
its own in quarter-second slices; it ends while /me is still being measured in (b) and must answer 201.
Goal: p95 of (b) under 100 ms. --before also runs (c): APP_WORKERS (3) such uploads sent straight to the
live colour's API pool (gunicorn sync workers, where nginx sent uploads before the upload pool existed),
with /me still through nginx: what slow clients did to everyone else.
"""

import argparse
import io
import socket
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import ROOT, one_instance_study  # a valid instance with fresh UIDs; puts e2e/ on sys.path
from stack_env import stack_env

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the local certificate is self-signed
BOUNDARY = "cdss-slow-upload"


def instance_of_size(patient_id: str, size: int) -> bytes:
    """One MR instance of about `size` bytes (square 16-bit pixels)."""
    import numpy as np
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(one_instance_study(patient_id)))
    side = max(16, int((size / 2) ** 0.5))
    dataset.Rows = dataset.Columns = side
    dataset.PixelData = np.zeros(side * side, dtype=np.uint16).tobytes()
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


class SlowUpload(threading.Thread):
    """POST /api/radiology/uploads over a raw socket, the body at `rate` bytes/s; keeps the status."""

    def __init__(self, host: str, port: int, tls: bool, token: str, body: bytes, rate: int):
        super().__init__(daemon=True)
        self.host, self.port, self.tls, self.token, self.body, self.rate = host, port, tls, token, body, rate
        self.status: str = "not finished"
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.status = self.send()
        except OSError as error:
            self.status = f"{error.__class__.__name__}: {error}"
        self.seconds = time.monotonic() - started

    def send(self) -> str:
        raw = socket.create_connection((self.host, self.port), timeout=120)
        sock = raw
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(raw, server_hostname=self.host)
        with sock:
            head = (
                f"POST /api/radiology/uploads HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Token {self.token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
            )
            sock.sendall(head.encode())
            slice_ = max(1, self.rate // 4)
            for offset in range(0, len(self.body), slice_):
                sock.sendall(self.body[offset : offset + slice_])
                time.sleep(0.25)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def measure_me(base: str, token: str, seconds: float, rate: float) -> tuple[list[float], list[str]]:
    """GET /api/auth/me `rate` times a second for `seconds`: latencies (s) and failures."""
    latencies, failures = [], []
    with session() as http:
        http.headers["Authorization"] = f"Token {token}"
        next_at = time.monotonic()
        until = next_at + seconds
        while next_at < until:
            started = time.perf_counter()
            try:
                answer = http.get(f"{base}/api/auth/me", timeout=10)
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures.append(f"HTTP {answer.status_code}")
            except requests.RequestException as error:
                failures.append(error.__class__.__name__)
            next_at = max(next_at + 1 / rate, time.monotonic())  # after a slow answer: no catch-up burst
            time.sleep(max(0.0, next_at - time.monotonic()))
    return latencies, failures


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else float("nan")


def session() -> requests.Session:
    http = requests.Session()
    http.verify, http.trust_env = False, False  # the local certificate is self-signed
    return http


def token_of(base: str, username: str, password: str) -> str:
    with session() as http:
        answer = http.post(f"{base}/api/auth/token", json={"username": username, "password": password}, timeout=30)
    answer.raise_for_status()
    return answer.json()["token"]


def with_uploads(args, base, me_token, rib_token, patient, host, port, tls) -> tuple[list, list, list]:
    size = args.rate * (args.seconds + 15)
    uploads = []
    for _ in range(args.uploads):
        data = instance_of_size(patient, size)
        body = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="slow.dcm"\r\n'
            f"Content-Type: application/dicom\r\n\r\n".encode()
            + data
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        uploads.append(SlowUpload(host, port, tls, rib_token, body, args.rate))
    for upload in uploads:
        upload.start()
        time.sleep(0.2)  # 5 a second: under the `api` zone's 10 r/s beside /me
    time.sleep(2)  # every upload is sending its body
    latencies, failures = measure_me(base, me_token, args.seconds, args.me_rate)
    for upload in uploads:
        upload.join(timeout=args.seconds + 300)
    return latencies, failures, uploads


def line(label: str, latencies: list[float], failures: list[str]) -> str:
    if not latencies:
        return f"{label}: no successful request; failures {len(failures)} {sorted(set(failures))}"
    return (
        f"{label}: {len(latencies)} ok, {len(failures)} failed {sorted(set(failures)) or ''}; "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {p95(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--rate", type=int, default=4096, help="bytes per second each upload sends")
    parser.add_argument("--seconds", type=float, default=30, help="how long /me is measured in each phase")
    parser.add_argument("--me-rate", type=float, default=5, help="GET /api/auth/me per second (nginx allows 10)")
    parser.add_argument("--before", action="store_true", help="also send the uploads straight to the API pool")
    args = parser.parse_args()

    env = stack_env()
    port = int(env["HTTPS_PORT"])
    base = f"https://127.0.0.1:{port}"
    me_token = token_of(base, "doctor", env["DEMO_PASSWORD"])
    rib_token = token_of(base, "radiologist", env["DEMO_PASSWORD"])
    with session() as http:
        answer = http.get(f"{base}/api/patients", headers={"Authorization": f"Token {rib_token}"}, timeout=30)
    patient = answer.json()["results"][0]["mrn"]
    print(f"{args.uploads} uploads at {args.rate} B/s each; /me at {args.me_rate}/s for {args.seconds:.0f} s per phase")

    alone = measure_me(base, me_token, args.seconds, args.me_rate)
    print(line("(a) /me alone                      ", *alone))
    latencies, failures, uploads = with_uploads(args, base, me_token, rib_token, patient, "127.0.0.1", port, True)
    print(line("(b) /me beside slow uploads (nginx)", latencies, failures))
    statuses = sorted({upload.status for upload in uploads})
    durations = [upload.seconds for upload in uploads]
    print(f"    uploads: {statuses}, {min(durations):.0f}-{max(durations):.0f} s each")
    if latencies and alone[0]:
        print(f"    p95 (b)/(a): {p95(latencies) / p95(alone[0]):.2f} (the machine's own noise moves both)")
    ok = bool(latencies) and not failures and p95(latencies) < 0.100
    ok = ok and all(" 201 " in upload.status for upload in uploads)
    print(f"    goal p95 < 100 ms, no failure, every upload 201: {'met' if ok else 'NOT met'}")

    if args.before:
        live = ROOT / "var" / "run" / "colour"
        colour = live.read_text().strip() if live.exists() else "blue"
        api_port = {"blue": 8000, "green": 8010}[colour]  # colour_ports in scripts/_app.sh
        # As many uploads as the pool has workers: enough to hold all of them (more would only queue).
        before = argparse.Namespace(**{**vars(args), "uploads": int(env.get("APP_WORKERS", "3"))})
        latencies, failures, uploads = with_uploads(
            before, base, me_token, rib_token, patient, "127.0.0.1", api_port, False
        )
        print(line(f"(c) /me beside {before.uploads} slow uploads at the API pool", latencies, failures))
        print(f"    uploads: {sorted({upload.status for upload in uploads})}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
