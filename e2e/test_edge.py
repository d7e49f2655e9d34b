"""The edge: nginx's TLS, redirect, HSTS and security headers, caching of the React build, the routes it
must not have, and the client headers (X-Real-IP, X-Forwarded-For, X-Request-ID) it never passes on."""

import re
import socket
import ssl
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPA = ROOT / "react" / "dist" / "index.html"

HSTS = "max-age=31536000; includeSubDomains"

# Paths that would reach an internal system if nginx routed them (Orthanc, HAPI FHIR, OpenEMR, MinIO,
# RabbitMQ's management and metrics, Prometheus, Alertmanager), with what their answers would contain.
INTERNAL = [
    "/system",
    "/instances",
    "/dicom-web/studies",
    "/wado",
    "/app/explorer.html",  # Orthanc
    "/fhir/metadata",
    "/fhir/Patient",
    "/baseR4/metadata",  # HAPI FHIR
    "/apis/default/api/patient",
    "/oauth2/default/token",
    "/interface/login/login.php",  # OpenEMR
    "/minio/health/live",
    "/cdss-artifacts/",
    "/cdss-backups/",  # MinIO buckets
    "/api/overview",
    "/api/queues",
    "/metrics",
    "/metrics/detailed",  # RabbitMQ
    "/api/v1/query?query=up",
    "/api/v2/alerts",
    "/-/ready",
    "/probe",  # Prometheus, Alertmanager, blackbox
]
SIGNATURES = [
    "Orthanc",
    "CapabilityStatement",
    "resourceType",
    "rabbitmq",
    "prometheus",
    "MinIO",
    "openemr",
    "ListBucketResult",
    "alertmanager",
]


def test_plain_http_redirects_to_https(http, http_url, base_url):
    response = http.get(f"{http_url}/api/patients?x=1", timeout=10, allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == f"{base_url}/api/patients?x=1"


def test_https_carries_exactly_one_hsts_header(http, base_url):
    for path in ("/health", "/api/docs", "/static/does-not-exist", "/"):
        response = http.get(f"{base_url}{path}", timeout=10, allow_redirects=False)
        values = response.raw.headers.getlist("Strict-Transport-Security")
        assert values == [HSTS], (path, values)


def test_the_certificate_names_localhost_and_only_modern_tls_is_offered(env):
    port = int(env["HTTPS_PORT"])
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert tls.getpeercert(binary_form=True)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        old.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.parametrize("path", INTERNAL)
def test_nothing_routes_to_internal_systems(http, base_url, path):
    response = http.get(f"{base_url}{path}", timeout=10, allow_redirects=False)
    if response.status_code == 200:
        # only the React app's index.html (a client-side route) may answer
        assert SPA.exists() and response.text == SPA.read_text(encoding="utf-8"), path
    else:
        assert response.status_code in (302, 401, 403, 404), (path, response.status_code)
        assert not any(mark.lower() in response.text.lower() for mark in SIGNATURES), (path, response.text[:200])
    assert "Server" not in response.headers or "nginx/" not in response.headers["Server"]


@pytest.mark.skipif(not SPA.exists(), reason="no React build (cd react && npm run build)")
def test_react_build_with_fallback_and_long_lived_hashed_assets(http, base_url):
    index = SPA.read_text(encoding="utf-8")
    for path in ("/", "/patients/123", "/some/client/route"):
        response = http.get(f"{base_url}{path}", timeout=10)
        assert response.status_code == 200 and response.text == index, path
        assert response.headers["Cache-Control"] == "no-cache"
    assets = sorted(p.name for p in (SPA.parent / "assets").iterdir())
    asset = http.get(f"{base_url}/assets/{assets[0]}", timeout=10)
    assert asset.status_code == 200
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert http.get(f"{base_url}/assets/missing-0000.js", timeout=10).status_code == 404


def test_session_cookie_is_secure_when_the_settings_ask_for_it(http, base_url, env):
    page = http.get(f"{base_url}/admin/login/", timeout=10)
    cookie = next(c for c in http.cookies if c.name == "csrftoken")
    assert page.status_code == 200
    assert cookie.secure == (env.get("DJANGO_SECURE_COOKIES", "true").lower() == "true")


def test_a_body_beyond_the_upload_limit_is_refused_with_413_before_it_is_sent(env, tls_context):
    # nginx judges Content-Length against client_max_body_size (1 GiB) before reading the body.
    with (
        socket.create_connection(("127.0.0.1", int(env["HTTPS_PORT"])), timeout=10) as raw,
        tls_context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(
            b"POST /api/radiology/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/zip\r\nContent-Length: 1073741825\r\n\r\n"
        )
        status_line = tls.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413", status_line


# --- security headers on every answer, and client headers that never count -------------------------------
EDGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _one(response, name: str) -> str:
    values = response.raw.headers.getlist(name)
    assert len(values) == 1, (response.url, name, values)
    return values[0]


def test_every_answer_carries_the_security_headers_once(http, base_url, http_url):
    """nginx's own answers (the React build, its assets, /static/, its 404s and redirects) and Django's."""
    paths = ["/", "/patients/123", "/login", "/metrics", "/static/does-not-exist", "/health", "/api/auth/csrf"]
    if SPA.exists():
        paths.append(f"/assets/{sorted(p.name for p in (SPA.parent / 'assets').iterdir())[0]}")
    answers = [http.get(f"{base_url}{path}", timeout=10, allow_redirects=False) for path in paths]
    answers.append(http.get(f"{http_url}/patients", timeout=10, allow_redirects=False))  # the HTTP redirect
    for response in answers:
        for name, value in EDGE_HEADERS.items():
            assert _one(response, name) == value, (response.url, name)
        policy = _one(response, "Content-Security-Policy")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, response.url
        script = next(part for part in policy.split("; ") if part.startswith("script-src"))
        assert "'unsafe-inline'" not in script and "*" not in script, "scripts from this origin only"
    for response in answers[:-1]:
        assert _one(response, "Strict-Transport-Security") == HSTS, response.url


@pytest.mark.skipif(not SPA.exists(), reason="no React build (cd react && npm run build)")
def test_the_web_ui_policy_allows_what_the_viewer_needs(http, base_url):
    """Cornerstone's codecs are WebAssembly, its decoders run as workers, images come as data:/blob:, and the
    SEG overlay's ndarray compiles with Function() (e2e/browser/test_browser.py shows the overlay)."""
    policy = http.get(f"{base_url}/", timeout=10).headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert {"'self'", "'wasm-unsafe-eval'", "'unsafe-eval'"} == set(directives["script-src"])
    assert {"'self'", "blob:"} <= set(directives["worker-src"])
    assert {"'self'", "data:", "blob:"} <= set(directives["img-src"])
    assert any(source.startswith("wss://") for source in directives["connect-src"])
    assert directives["object-src"] == ["'none'"]
    assert "camera=()" in http.get(f"{base_url}/", timeout=10).headers["Permissions-Policy"]


def _failed_sign_in(http, url: str, username: str):
    forged = {"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "203.0.113.7", "X-Request-ID": f"forged-{username}"}
    body = {"username": username, "password": "not-the-password-1"}
    return http.post(f"{url}/api/auth/token", json=body, headers=forged, timeout=10)


@pytest.mark.parametrize("listener", ["edge", "loopback"])
def test_client_sent_address_and_request_id_never_reach_django(http, base_url, token_headers, listener):
    """Through the HTTPS edge and through the loopback listener for Prometheus and Alertmanager: the audit
    trail names the address nginx saw and nginx's own request id, never what the client wrote."""
    url = base_url if listener == "edge" else "http://127.0.0.1:8002"
    username = f"e2e-nobody-{uuid.uuid4().hex[:10]}"
    answer = _failed_sign_in(http, url, username)
    assert answer.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
    admin = token_headers("admin")
    events = http.get(f"{base_url}/api/audit/events", params={"actor": username}, headers=admin, timeout=10).json()
    assert events["count"] >= 1, events
    for event in events["results"]:
        assert event["source_ip"] == "127.0.0.1" and event["request_id"] == answer.headers["X-Request-ID"], event
