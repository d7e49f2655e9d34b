"""nginx answers a 503 in JSON naming the system it cannot reach, never its own HTML 502/500 (the `deploy`
suite; run by scripts/check-deploy-config.sh, which prepares DIR).

    backend/.venv/bin/python scripts/check_gateway_unavailable.py DIR

DIR holds the check's copy of nginx/docker.conf (nginx.conf, its includes and tls/, as
check-deploy-config.sh writes them). This runs a copy of it on free loopback ports, with Django's upstreams
and Orthanc's on ports where nothing listens, and checks:
1. Django down: every route to Django (the API, uploads, STOW-RS, searches, /health, /ready, /admin/, CDS
   Hooks, the websocket) answers 503, JSON naming `cdss-api`, with Retry-After and the security headers;
   a DICOMweb frame too (its authorisation cannot be asked);
2. a stand-in Django on the upstream port: a frame it authorises, with Orthanc down, is a 503 naming
   `orthanc`; its authorisation failing (its own 503) is a 503 naming `cdss-api`; its refusal stays 403;
   its own 502/503/504 pass through unchanged; a connection it drops unanswered is a 503 naming `cdss-api`;
3. nginx logs no warning (an uninitialised variable) while answering all that.
Needs nginx; stops what it started. Prints one line per problem and exits 1 if there is any.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
)
STUDY_GRANTED, STUDY_AUTH_FAILS, STUDY_REFUSED = "1.2.840.1", "1.2.840.2", "1.2.840.3"


def frame(study: str) -> str:
    return f"/api/radiology/dicom-web/studies/{study}/series/1.2.3/instances/1.2.3.4/frames/1"


# Django's own errors, which nginx must pass on as they are: path -> (status, body, headers).
OWN_ERRORS = {
    "/api/standin/502": (502, {"status": 502, "error": "external_system", "system": "emr", "dependency": "emr"}, {}),
    "/api/standin/503": (
        503,
        {"status": 503, "error": "dependency_unavailable", "dependency": "database"},
        {"Retry-After": "7"},
    ),
    "/api/standin/504": (504, {"status": 504, "error": "external_system", "system": "fhir", "dependency": "fhir"}, {}),
}


class StandInDjango(BaseHTTPRequestHandler):
    """Answers the DICOMweb authorisation by study, Django's own errors, and drops /api/standin/drop."""

    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        if self.path.startswith("/api/radiology/dicom-web-auth?"):
            if STUDY_GRANTED in self.path:
                return self.answer(200, {}, {"X-Accel-Expires": "30"})
            if STUDY_REFUSED in self.path:
                return self.answer(403, {"error": "forbidden"}, {"X-Accel-Expires": "5"})
            return self.answer(503, {"error": "dependency_unavailable", "dependency": "database"})
        if self.path == "/api/standin/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if self.path in OWN_ERRORS:
            return self.answer(*OWN_ERRORS[self.path])
        return self.answer(200, {"username": "standin"})

    def answer(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # quiet
        pass


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def configure(source: Path, work: Path, http_port: int, https_port: int, django: int, orthanc: int) -> Path:
    """The check's docker.conf copy on these ports, its pid, logs, cache and Orthanc include under `work`."""
    env = {
        **os.environ,
        "ORTHANC_URL": f"http://127.0.0.1:{orthanc}",
        "ORTHANC_USERNAME": "check",
        "ORTHANC_PASSWORD": "check",  # nginx's own test credentials, sent to a closed port
    }
    command = [shutil.which("sh") or "/bin/sh", str(ROOT / "nginx/orthanc.sh"), str(work / "orthanc.conf")]
    subprocess.run(command, env=env, check=True)  # noqa: S603 (fixed arguments)
    conf = (source / "nginx.conf").read_text()
    replacements = [
        (r"include \S+/orthanc\.conf;", f"include {work}/orthanc.conf;"),
        (r"listen 80 ", f"listen 127.0.0.1:{http_port} "),
        (r"listen 443 ", f"listen 127.0.0.1:{https_port} "),
        (r"server 127\.0\.0\.1:\d+;", f"server 127.0.0.1:{django};"),
        (r"^pid \S+;", f"pid {work}/nginx.pid;"),
        (r"access_log \S+;", f"access_log {work}/access.log;"),
        (r"proxy_cache_path \S+", f"proxy_cache_path {work}/cache"),
    ]
    for pattern, replacement in replacements:
        conf, count = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
        if not count:
            sys.exit(f"{source / 'nginx.conf'}: nothing matches {pattern!r}")
    (work / "nginx.conf").write_text(conf)
    return work / "nginx.conf"


class Gateway:
    def __init__(self, port: int):
        self.port = port
        self.context = ssl.create_default_context()
        self.context.check_hostname = False  # the throw-away self-signed certificate
        self.context.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for _ in range(100):
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=10)
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                result = response.status, response.getheaders(), response.read()
                conn.close()
                return result
            except ConnectionRefusedError:
                time.sleep(0.05)
        sys.exit(f"nginx did not listen on {self.port}")


def unavailable_problems(label: str, answer, system: str) -> list[str]:
    status, header_list, body = answer
    headers = {name.lower(): value for name, value in header_list}
    problems = []
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if status != 503:
        problems.append(f"{label}: {status}, expected 503")
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append(f"{label}: Content-Type {headers.get('content-type')!r}, expected application/json")
    if not isinstance(data, dict):
        problems.append(f"{label}: the body is not a JSON object: {body[:80]!r}")
    elif (
        data.get("status") != 503
        or data.get("error") != "external_system"
        or data.get("system") != system
        or data.get("dependency") != system
        or not data.get("detail")
    ):
        problems.append(f"{label}: body {data}, expected status 503, external_system, {system}, a detail")
    if headers.get("retry-after") != "5":
        problems.append(f"{label}: Retry-After {headers.get('retry-after')!r}, expected '5'")
    problems += [f"{label}: no {name}" for name in SECURITY_HEADERS if name.lower() not in headers]
    return problems


def check(gateway: Gateway, django_port: int) -> list[str]:
    problems = []
    # 1. Nothing listens on Django's ports (nor on Orthanc's).
    websocket = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    websocket["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    django_routes = [
        ("GET", "/api/auth/me", None, None),
        ("GET", "/api/radiology/studies", None, None),
        ("POST", "/api/radiology/uploads", b"x" * 4096, {"Content-Type": "application/octet-stream"}),
        ("POST", "/api/radiology/dicom-web/studies", b"x" * 4096, {"Content-Type": "application/dicom"}),
        ("GET", "/api/radiology/dicom-web/studies?PatientID=1", None, None),
        ("GET", "/health", None, None),
        ("GET", "/ready", None, None),
        ("GET", "/admin/", None, None),
        ("GET", "/cds-services", None, None),
        ("POST", "/cds-services/cdss-patient-view", b"{}", {"Content-Type": "application/json"}),
        ("GET", "/ws/notifications/", None, websocket),
        ("GET", frame(STUDY_GRANTED), None, None),
    ]
    for method, path, body, headers in django_routes:
        answer = gateway.request(method, path, body, headers)
        problems += unavailable_problems(f"Django down: {method} {path}", answer, "cdss-api")
    # The answer's own path is not a route.
    status, headers, _ = gateway.request("GET", "/_cdss/unavailable/orthanc")
    if status != 404 or any(name.lower() == "retry-after" for name, _ in headers):
        problems.append(f"/_cdss/unavailable/orthanc from outside: {status} {headers}, expected 404, no Retry-After")

    # 2. A stand-in Django on the upstream port; Orthanc still down.
    server = ThreadingHTTPServer(("127.0.0.1", django_port), StandInDjango)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = gateway.request("GET", frame(STUDY_GRANTED))
        problems += unavailable_problems("Orthanc down, frame authorised", answer, "orthanc")
        if not any(f"uri={frame(STUDY_GRANTED)}" in path for path in StandInDjango.seen):
            problems.append(f"the stand-in Django was not asked to authorise the frame: {StandInDjango.seen}")
        answer = gateway.request("GET", frame(STUDY_AUTH_FAILS))
        problems += unavailable_problems("authorisation answered 503 by Django", answer, "cdss-api")
        status, _, _ = gateway.request("GET", frame(STUDY_REFUSED))
        if status != 403:
            problems.append(f"a frame Django refuses: {status}, expected 403")
        for path, (status, body, extra) in OWN_ERRORS.items():
            got, header_list, got_body = gateway.request("GET", path)
            headers = {}
            for name, value in header_list:
                headers.setdefault(name.lower(), []).append(value)
            expected_retry = [extra["Retry-After"]] if "Retry-After" in extra else None
            if got != status or json.loads(got_body) != body or headers.get("retry-after") != expected_retry:
                problems.append(
                    f"Django's own {status} changed: {got} {got_body[:120]!r} Retry-After {headers.get('retry-after')}"
                )
        answer = gateway.request("GET", "/api/standin/drop")
        problems += unavailable_problems("Django drops the connection", answer, "cdss-api")
        status, _, body = gateway.request("GET", "/api/auth/me")
        if status != 200 or b"standin" not in body:
            problems.append(f"the stand-in Django's 200 did not pass: {status} {body[:80]!r}")
    finally:
        server.shutdown()
        server.server_close()
    return problems


def main() -> int:
    source = Path(sys.argv[1]).resolve()
    nginx_binary = shutil.which("nginx")
    if not nginx_binary:
        sys.exit("nginx is not installed")
    http_port, https_port, django_port, orthanc_port = free_ports(4)
    with tempfile.TemporaryDirectory(prefix="cdss-unavailable-") as tmp:
        work = Path(tmp)
        conf = configure(source, work, http_port, https_port, django_port, orthanc_port)
        # nginx's workers run as nobody when the master is root: they pass through to their temp folders.
        os.chmod(work, 0o711)  # noqa: S103 (traverse only)
        error_log = work / "error.log"
        command = [nginx_binary, "-p", str(work), "-c", str(conf), "-e", str(error_log), "-g", "daemon off;"]
        nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            problems = check(Gateway(https_port), django_port)
        finally:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        log = error_log.read_text() if error_log.exists() else ""
        problems += [f"nginx warned: {line}" for line in log.splitlines() if "[warn]" in line or "[emerg]" in line]
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
