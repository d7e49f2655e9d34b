"""DICOM upload throughput: the same instances (a) straight to Orthanc's REST API and (b) through the
CDSS upload endpoint of a real gunicorn worker, in one run; then the worker's peak RSS for a large upload.

    cd backend && .venv/bin/python benchmarks/upload_throughput.py [--instances 240] [--size 512]
                                                                   [--rounds 2] [--large-mb 500]

(a) POSTs each file to Orthanc's /instances over one keep-alive session, one after another (the issue's
baseline); (a4) does the same from RADIOLOGY_UPLOAD_CONCURRENCY threads, as the CDSS stores, and is
printed with its ratio for comparison.
(b) sends all files in one multipart request (streamed from disk, with a Content-Length) to
/api/radiology/uploads, which validates each with pydicom, stores it in Orthanc and records the study.
The study is deleted from Orthanc between variants so both store the same new instances. Rounds
alternate a/b; the median of each is reported. Peak RSS is the worker's VmHWM from /proc after the
large upload (the worker is fresh, so the figure is that request's high-water mark).
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from _django import bench_database

from core.http import LargeBlockAdapter

BACKEND = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_series(directory: Path, count: int, size: int, tag: str) -> list[Path]:
    from radiology.testing import series_instances, to_bytes

    paths = []
    for index, dataset in enumerate(series_instances(count, description=f"AX T2 {tag}", size=size)):
        path = directory / f"{tag}-{index:05d}.dcm"
        path.write_bytes(to_bytes(dataset))
        paths.append(path)
    return paths


class MultipartFiles:
    """A multipart/form-data body read from files on disk, piece by piece, with a known length."""

    def __init__(self, paths: list[Path], boundary: str = "cdss-bench-boundary"):
        self.boundary = boundary
        self.pieces: list[bytes | Path] = []
        for path in paths:
            self.pieces.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
                f"Content-Type: application/dicom\r\n\r\n".encode()
            )
            self.pieces += [path, b"\r\n"]
        self.pieces.append(f"--{boundary}--\r\n".encode())
        self.length = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self.pieces)
        self._iter = iter(self.pieces)
        self._buffer = b""
        self._file = None

    def __len__(self) -> int:
        return self.length

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def read(self, size: int = -1) -> bytes:
        size = 1024 * 1024 if size is None or size < 0 else size
        while len(self._buffer) < size:
            if self._file is not None:
                chunk = self._file.read(size)
                if chunk:
                    self._buffer += chunk
                    continue
                self._file.close()
                self._file = None
            piece = next(self._iter, None)
            if piece is None:
                break
            if isinstance(piece, Path):
                self._file = piece.open("rb")
            else:
                self._buffer += piece
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def gunicorn_start(port: int, database: str) -> subprocess.Popen:
    from core.dbaccess import process_env

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdss.settings.test", **process_env(name=database)}
    process = subprocess.Popen(  # noqa: S603 - our own gunicorn, arguments fixed here
        [str(BACKEND / ".venv/bin/gunicorn"), "cdss.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "900", "--log-level", "warning"],
        cwd=BACKEND, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200:
                return process
        except requests.RequestException:  # not listening yet, or slow to answer on a busy machine
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=240)
    parser.add_argument("--size", type=int, default=512, help="pixels per side (16-bit): 512 -> about 0.5 MB")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--large-mb", type=int, default=500, help="size of the upload whose peak RSS is reported")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: no gunicorn left behind

    with bench_database(), tempfile.TemporaryDirectory(prefix="cdss-bench-upload-") as tmp:
        from django.conf import settings

        from acct.models import User
        from acct.services import token_issue, user_set_roles
        from radiology.clients.orthanc_client import OrthancClient

        rib = User.objects.create_user("bench-rib", password="bench-password-123")
        user_set_roles(actor=None, user=rib, roles={"RIB"})
        _, token = token_issue(actor=rib, user=rib)
        orthanc = OrthancClient()
        paths = write_series(Path(tmp), args.instances, args.size, "set")
        total_mb = sum(p.stat().st_size for p in paths) / 1e6
        study_uid = __import__("pydicom").dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID

        def delete_study(uid: str) -> None:
            for item in orthanc.lookup(uid):
                if item.get("Type") == "Study":
                    orthanc.delete_study(item["ID"])

        def post_each(files: list[Path]) -> None:
            session = requests.Session()
            session.mount("http://", LargeBlockAdapter())  # the same send size as the CDSS's client
            session.auth = (settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD)
            for path in files:
                with path.open("rb") as handle:
                    response = session.post(f"{settings.ORTHANC_URL}/instances", data=handle,
                                            headers={"Content-Type": "application/dicom"}, timeout=60)  # fmt: skip
                    response.raise_for_status()

        def direct(threads: int = 1) -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(post_each, [paths[i::threads] for i in range(threads)]))
            return time.perf_counter() - started

        port = free_port()
        database = settings.DATABASES["default"]["NAME"]
        server = gunicorn_start(port, database)
        worker = worker_pid(server.pid)
        url = f"http://127.0.0.1:{port}/api/radiology/uploads"
        headers = {"Authorization": f"Token {token}"}

        def through_cdss(files: list[Path]) -> tuple[float, dict]:
            body = MultipartFiles(files)
            started = time.perf_counter()
            response = requests.post(url, data=body, headers={**headers, "Content-Type": body.content_type},
                                     timeout=900)  # fmt: skip
            elapsed = time.perf_counter() - started
            if response.status_code not in (200, 201):
                raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")
            return elapsed, response.json()["counts"]

        try:
            delete_study(study_uid)
            a_times, a4_times, b_times, b_cpu = [], [], [], []
            for _ in range(args.rounds):
                a_times.append(direct())
                delete_study(study_uid)
                a4_times.append(direct(settings.RADIOLOGY_UPLOAD_CONCURRENCY))
                delete_study(study_uid)
                cpu_before = cpu_seconds(worker)
                elapsed, counts = through_cdss(paths)
                b_cpu.append(cpu_seconds(worker) - cpu_before)
                assert counts["stored"] == len(paths), counts
                b_times.append(elapsed)
                delete_study(study_uid)
            a, a4, b = (statistics.median(times) for times in (a_times, a4_times, b_times))
            n = len(paths)
            print(f"instances: {n} x {total_mb / n:.2f} MB = {total_mb:.1f} MB; rounds: {args.rounds} (median)")
            print(f"(a) straight to Orthanc : {n / a:7.1f} instances/s {total_mb / a:7.1f} MB/s")
            threads = settings.RADIOLOGY_UPLOAD_CONCURRENCY
            print(f"(a4) ... from {threads} threads: {n / a4:7.1f} instances/s {total_mb / a4:7.1f} MB/s")
            print(f"(b) through the CDSS    : {n / b:7.1f} instances/s {total_mb / b:7.1f} MB/s")
            print(f"ratio b/a: {a / b:.3f} (goal >= 0.8); b/a4: {a4 / b:.3f}")
            print(f"Django worker CPU in (b): {statistics.median(b_cpu) / n * 1000:.2f} ms per instance (median)")
        finally:
            server.terminate()
            server.wait(30)

        # Peak RSS: a fresh worker, one large upload.
        large_count = max(1, int(args.large_mb * 1e6 / (paths[0].stat().st_size)))
        large = write_series(Path(tmp), large_count, args.size, "large")
        large_mb = sum(p.stat().st_size for p in large) / 1e6
        large_uid = __import__("pydicom").dcmread(large[0], stop_before_pixels=True).StudyInstanceUID
        server = gunicorn_start(port, database)
        try:
            pid = worker_pid(server.pid)
            before = peak_rss_mb(pid)
            elapsed, counts = through_cdss(large)
            after = peak_rss_mb(pid)
            print(f"large upload: {len(large)} instances, {large_mb:.0f} MB in {elapsed:.1f} s "
                  f"({large_mb / elapsed:.1f} MB/s), stored {counts['stored']}")  # fmt: skip
            print(f"worker peak RSS: {before:.0f} MB before, {after:.0f} MB after the {large_mb:.0f} MB upload")
        finally:
            server.terminate()
            server.wait(30)
            delete_study(large_uid)


if __name__ == "__main__":
    sys.exit(main())
