"""The foundation's promises, checked through nginx on the stack that `make run` started."""

import asyncio
import re
import uuid
from functools import partial

import requests
import websockets
from second_factor import with_code


def test_health_through_nginx_carries_a_request_id(http, base_url):
    response = http.get(f"{base_url}/health", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    sent = http.get(f"{base_url}/health", headers={"X-Request-ID": "edge-42"}, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", sent.headers["X-Request-ID"]), "nginx's own id, not the client's"


def test_ready_shows_every_configured_dependency_up(http, base_url):
    response = http.get(f"{base_url}/ready", timeout=15)
    body = response.json()
    assert response.status_code == 200, body
    for name in ("database", "redis", "rabbitmq", "orthanc", "object_storage"):
        assert body["checks"][name]["status"] == "up", (name, body["checks"][name])


def test_metrics_are_not_reachable_through_nginx(http, base_url):
    assert http.get(f"{base_url}/metrics", timeout=10).status_code == 404


def test_api_docs_render_with_their_assets(http, base_url):
    docs = http.get(f"{base_url}/api/docs", timeout=10)
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text)
    assert any("swagger-ui-bundle.js" in asset for asset in assets), assets
    for asset in assets:
        assert http.get(f"{base_url}{asset}", timeout=10).status_code == 200, asset
    schema = http.get(f"{base_url}/api/schema", timeout=10)
    assert schema.status_code == 200 and schema.text.startswith("openapi: 3")


def _admin_login(http, base_url, password, code):
    page = http.get(f"{base_url}/admin/login/?next=/admin/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"csrfmiddlewaretoken": token, "username": "admin", "password": password, "otp_token": code}
    return http.post(
        f"{base_url}/admin/login/?next=/admin/",
        data={**form, "next": "/admin/"},
        headers={"Referer": f"{base_url}/admin/login/"},
        timeout=10,
        allow_redirects=False,
    )


def _admin_signs_in(http, base_url, env):
    """The printed login plus a code from admin's authenticator (Django admin asks for the second factor)."""
    sign_in = partial(_admin_login, http, base_url, env["DEMO_PASSWORD"])
    return with_code(env, "admin", sign_in, refused=lambda response: response.status_code == 200)


def test_printed_admin_login_works(http, base_url, env):
    response = _admin_signs_in(http, base_url, env)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    admin_home = http.get(f"{base_url}/admin/", timeout=10, allow_redirects=False)
    assert admin_home.status_code == 200
    assert 'href="/admin/acct/user/"' in admin_home.text


def test_admin_login_without_the_second_factor_is_refused(http, base_url, env):
    response = _admin_login(http, base_url, env["DEMO_PASSWORD"], "")
    assert response.status_code == 200  # the login form again, asking for the code
    assert http.get(f"{base_url}/admin/", timeout=10, allow_redirects=False).status_code == 302


def test_the_admin_password_alone_signs_nobody_in(http, base_url, env):
    """Session, token: admin's right password is only the first step."""
    csrf = http.get(f"{base_url}/api/auth/csrf", timeout=10).json()["csrf_token"]
    credentials = {"username": "admin", "password": env["DEMO_PASSWORD"]}
    first = http.post(
        f"{base_url}/api/auth/login",
        json=credentials,
        headers={"X-CSRFToken": csrf, "Referer": f"{base_url}/"},
        timeout=10,
    )
    assert first.status_code == 202 and first.json() == {"otp_required": True, "enrolment_required": False}
    assert http.get(f"{base_url}/api/auth/me", timeout=10).status_code == 401
    token = http.post(f"{base_url}/api/auth/token", json=credentials, timeout=10)
    assert token.status_code == 401 and token.json()["error"] == "otp_required"


def test_wrong_admin_password_is_refused(http, base_url):
    response = _admin_login(http, base_url, "not-the-password", "000000")
    assert response.status_code == 200  # the login form again, with an error
    assert http.get(f"{base_url}/admin/", timeout=10, allow_redirects=False).status_code == 302


def test_websocket_through_nginx_needs_a_session(http, base_url, env, tls_context):
    ws_url = base_url.replace("https://", "wss://") + "/ws/notifications/"

    async def connect(cookie: str | None):
        headers = {"Cookie": cookie} if cookie else {}
        async with websockets.connect(
            ws_url, origin=base_url, additional_headers=headers, open_timeout=10, ssl=tls_context
        ) as ws:
            try:  # still open after 1.5 s; the user's notifications may arrive meanwhile (other suites run beside)
                async with asyncio.timeout(1.5):
                    while True:
                        await ws.recv()
            except TimeoutError:
                return "open"
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    try:
        asyncio.run(connect(None))
        raise AssertionError("an anonymous websocket was accepted")
    except websockets.InvalidStatus as refused:  # closed before accept: daphne refuses the handshake
        assert refused.response.status_code == 403
    _admin_signs_in(http, base_url, env)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    assert asyncio.run(connect(cookie)) == "open"


def test_the_request_id_of_the_edge_reaches_the_audit_trail_and_the_clients_does_not(http, base_url, token_headers):
    headers = token_headers("admin")
    me = http.get(f"{base_url}/api/auth/me", headers=headers, timeout=10).json()
    assert me["roles"] == ["ADMIN"]
    forged = f"e2e-{uuid.uuid4().hex[:12]}"  # the database outlives test runs: a fresh id each time
    answer = http.get(
        f"{base_url}/api/audit/events",
        params={"patient": "e2e-none"},
        timeout=10,
        headers={**headers, "X-Request-ID": forged, "X-Real-IP": "203.0.113.9", "X-Forwarded-For": "203.0.113.9"},
    )
    trace = answer.headers["X-Request-ID"]
    assert trace != forged and re.fullmatch(r"[0-9a-f]{32}", trace)
    found = http.get(f"{base_url}/api/audit/events", params={"request_id": trace}, headers=headers, timeout=10).json()
    assert found["count"] == 1
    event = found["results"][0]
    assert event["actor_username"] == "admin" and event["source_ip"] == "127.0.0.1", "nginx's view of the client"
    none = http.get(f"{base_url}/api/audit/events", params={"request_id": forged}, headers=headers, timeout=10)
    assert none.json()["count"] == 0


def test_patients_from_the_emr_for_clinicians_only(http, base_url, token_headers):
    doctor = token_headers("doctor")
    patients = http.get(f"{base_url}/api/patients", headers=doctor, timeout=10).json()
    assert patients["count"] >= 50, "make run fills the patient cache from the EMR (stand-in)"
    puuid = patients["results"][0]["emr_uuid"]
    problems = http.get(f"{base_url}/api/patients/{puuid}/problems", headers=doctor, timeout=10)
    assert problems.status_code == 200 and problems.json()["patient"] == puuid
    ops = token_headers("ops")
    assert http.get(f"{base_url}/api/patients", headers=ops, timeout=10).status_code == 403


def test_api_rate_limit_answers_429(http, base_url):
    """40 requests at once against 10 r/s with a burst of 20: some must be refused, however slow the machine."""
    from concurrent.futures import ThreadPoolExecutor

    def get(_):
        with requests.Session() as session:
            return session.get(f"{base_url}/api/auth/csrf", timeout=30, verify=False).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(get, range(40)))
    assert 429 in codes, codes
