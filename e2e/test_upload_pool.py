"""Uploads go to the colour's upload pool (gunicorn threads), so slow clients cannot starve the API
(docs/radiology.md, "Slow clients"; docs/adr/0002-upload-pool.md). Works on the stack `make run` started.
The figures under load are benchmarks/slow_uploads.py's; here, the routing and the guarantee itself."""

import socket
import ssl
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "var" / "log"


def live_colour() -> str:
    path = ROOT / "var" / "run" / "colour"
    return path.read_text().strip() if path.exists() else "blue"


def logged(colour: str, pool: str, path: str) -> int:
    log = LOG / f"{colour}-{pool}.log"
    return log.read_text(errors="replace").count(f"POST {path}") if log.exists() else 0


def test_uploads_and_stow_rs_reach_the_upload_pool_not_the_api_pool(http, base_url, token_headers):
    colour, headers = live_colour(), token_headers("radiologist")
    for path, send in (
        ("/api/radiology/uploads", {"files": [("files", ("x.dcm", b"not dicom", "application/dicom"))]}),
        ("/api/radiology/dicom-web/studies", {"data": b"not dicom", "headers": {"Content-Type": "application/dicom"}}),
    ):
        before = (logged(colour, "upload", path), logged(colour, "web", path))
        answer = http.post(f"{base_url}{path}", headers={**headers, **send.pop("headers", {})}, timeout=30, **send)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])  # refused, not stored
        time.sleep(0.5)  # the access log line is written after the answer
        after = (logged(colour, "upload", path), logged(colour, "web", path))
        assert after == (before[0] + 1, before[1]), (path, before, after)


def open_slow_upload(port: int, token: str) -> ssl.SSLSocket:
    """An upload whose client has sent its headers and the first bytes of a large body, and then crawls."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1")
    sock.sendall(
        (
            f"POST /api/radiology/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
            "Content-Type: multipart/form-data; boundary=slow\r\nContent-Length: 10000000\r\n\r\n"
            '--slow\r\nContent-Disposition: form-data; name="files"; filename="slow.dcm"\r\n\r\n'
        ).encode()
    )
    return sock


def test_slow_uploads_beyond_the_api_workers_do_not_starve_the_api(http, base_url, env, token_headers):
    """More slow uploads than the API pool has sync workers (APP_WORKERS, 3): before the upload pool, they
    held every worker and /api/auth/me waited until they ended. Now each answers promptly."""
    token = token_headers("radiologist")["Authorization"].split()[1]
    me = token_headers("doctor")
    port = int(env["HTTPS_PORT"])
    uploads = [open_slow_upload(port, token) for _ in range(int(env.get("APP_WORKERS", "3")) + 2)]
    latencies = []
    try:
        for _ in range(10):
            for sock in uploads:
                sock.sendall(b"\0" * 512)  # a few hundred bytes a second each: a slow ward link
            started = time.monotonic()
            assert http.get(f"{base_url}/api/auth/me", headers=me, timeout=10).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.5)
    except requests.Timeout as error:
        raise AssertionError(f"/api/auth/me timed out while slow uploads were open (after {latencies})") from error
    finally:
        for sock in uploads:
            sock.close()  # abandoned half-way: the upload pool reads a truncated body and stores nothing
    assert max(latencies) < 3.0, latencies  # generous for two shared cores; the benchmark has the p95
