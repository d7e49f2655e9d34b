"""nginx answers a 503 in JSON naming the system it cannot reach, never its own HTML 502/500 (the `deploy`
suite; run by scripts/check-deploy-config.sh, which prepares DIR).

    backend/.venv/bin/python scripts/check_gateway_unavailable.py DIR

DIR holds the check's copy of nginx/docker.conf (nginx.conf, its includes and tls/, as
check-deploy-config.sh writes them). This runs a copy of it on free loopback ports (scripts/nginx_copy.py),
with Django's upstreams and Orthanc's on ports where nothing listens, and checks:
1. Django down: every route to Django (the API, uploads, STOW-RS, searches, /health, /ready, /admin/, CDS
   Hooks, the websocket) answers 503, JSON naming `cdss-api`, with Retry-After and the security headers;
   a DICOMweb frame too (its authorisation cannot be asked);
2. a stand-in Django on the upstream port: a frame it authorises, with Orthanc down, is a 503 naming
   `orthanc`; its authorisation failing (its own 503) is a 503 naming `cdss-api`; its refusal stays 403;
   its own 502/503/504 pass through unchanged; a connection it drops unanswered is a 503 naming `cdss-api`;
3. nginx logs no warning (an uninitialised variable) while answering all that.
Needs nginx; stops what it started. Prints one line per problem and exits 1 if there is any.
"""

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nginx_copy import Answer, RunningCopy, running_copy

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


def unavailable_problems(label: str, answer: Answer, system: str) -> list[str]:
    problems = []
    try:
        data = json.loads(answer.body)
    except ValueError:
        data = None
    if answer.status != 503:
        problems.append(f"{label}: {answer.status}, expected 503")
    content_type = answer.header("Content-Type") or ""
    if not content_type.startswith("application/json"):
        problems.append(f"{label}: Content-Type {content_type!r}, expected application/json")
    if not isinstance(data, dict):
        problems.append(f"{label}: the body is not a JSON object: {answer.body[:80]!r}")
    elif (
        data.get("status") != 503
        or data.get("error") != "external_system"
        or data.get("system") != system
        or data.get("dependency") != system
        or not data.get("detail")
    ):
        problems.append(f"{label}: body {data}, expected status 503, external_system, {system}, a detail")
    if answer.header("Retry-After") != "5":
        problems.append(f"{label}: Retry-After {answer.header('Retry-After')!r}, expected '5'")
    problems += [f"{label}: no {name}" for name in answer.missing_security_headers()]
    return problems


def check(nginx: RunningCopy) -> list[str]:
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
        answer = nginx.request(method, path, body, headers)
        problems += unavailable_problems(f"Django down: {method} {path}", answer, "cdss-api")
    # The answer's own path is not a route.
    answer = nginx.request("GET", "/_cdss/unavailable/orthanc")
    if answer.status != 404 or answer.header("Retry-After") is not None:
        problems.append(
            f"/_cdss/unavailable/orthanc from outside: {answer.status} {answer.headers}, expected 404, no Retry-After"
        )

    # 2. A stand-in Django on the upstream port; Orthanc still down.
    server = ThreadingHTTPServer(("127.0.0.1", nginx.django_port), StandInDjango)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = nginx.request("GET", frame(STUDY_GRANTED))
        problems += unavailable_problems("Orthanc down, frame authorised", answer, "orthanc")
        if not any(f"uri={frame(STUDY_GRANTED)}" in path for path in StandInDjango.seen):
            problems.append(f"the stand-in Django was not asked to authorise the frame: {StandInDjango.seen}")
        answer = nginx.request("GET", frame(STUDY_AUTH_FAILS))
        problems += unavailable_problems("authorisation answered 503 by Django", answer, "cdss-api")
        answer = nginx.request("GET", frame(STUDY_REFUSED))
        if answer.status != 403:
            problems.append(f"a frame Django refuses: {answer.status}, expected 403")
        for path, (status, body, extra) in OWN_ERRORS.items():
            answer = nginx.request("GET", path)
            # Exactly Django's Retry-After, once (nginx adds its own only to its own 503).
            retry_after = [value for name, value in answer.headers if name.lower() == "retry-after"]
            expected_retry = [extra["Retry-After"]] if "Retry-After" in extra else []
            if answer.status != status or json.loads(answer.body) != body or retry_after != expected_retry:
                problems.append(
                    f"Django's own {status} changed: {answer.status} {answer.body[:120]!r} Retry-After {retry_after}"
                )
        answer = nginx.request("GET", "/api/standin/drop")
        problems += unavailable_problems("Django drops the connection", answer, "cdss-api")
        answer = nginx.request("GET", "/api/auth/me")
        if answer.status != 200 or b"standin" not in answer.body:
            problems.append(f"the stand-in Django's 200 did not pass: {answer.status} {answer.body[:80]!r}")
    finally:
        server.shutdown()
        server.server_close()
    # 3. Nothing above made nginx warn.
    problems += [f"nginx warned: {line}" for line in nginx.warnings()]
    return problems


def main() -> int:
    with running_copy(Path(sys.argv[1]).resolve()) as nginx:
        problems = check(nginx)
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
