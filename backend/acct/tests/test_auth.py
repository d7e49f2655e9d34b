"""Sign-in, tokens and abuse: each bad attempt gets a clear JSON 4xx, changes nothing, and is audited."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from acct.permissions import IsAdmin, IsDoctor, IsDoctorOrRIB, IsOps, IsRIB, IsService, IsStaffRole
from acct.services import token_issue
from audit.models import Action, AuditEvent, Outcome

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def csrf_client() -> tuple[APIClient, str]:
    """A browser-like client: CSRF checks on, token fetched the way the SPA does it."""
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    return client, token


def login(client: APIClient, csrf: str, username: str, password: str):
    return client.post(
        "/api/auth/login", {"username": username, "password": password}, format="json", HTTP_X_CSRFTOKEN=csrf
    )


def test_session_login_me_logout(make_user):
    user = make_user("DOCTOR", "RIB", username="dr-kim")
    client, csrf = csrf_client()

    response = login(client, csrf, "dr-kim", PASSWORD)
    assert response.status_code == 200
    assert response.json()["roles"] == ["DOCTOR", "RIB"]
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value  # rotated at login
    assert client.get("/api/auth/me").json()["username"] == "dr-kim"

    assert client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    actions = list(AuditEvent.objects.filter(actor_id=user.pk).values_list("action", flat=True))
    assert Action.LOGIN in actions and Action.LOGOUT in actions


def test_login_without_csrf_token_is_refused(make_user):
    make_user("DOCTOR", username="dr-lee")
    client, _ = csrf_client()
    response = client.post("/api/auth/login", {"username": "dr-lee", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert "_auth_user_id" not in client.session


def test_unsafe_request_with_session_but_no_csrf_is_refused_and_audited(make_user):
    make_user("DOCTOR", username="dr-cho")
    client, csrf = csrf_client()
    login(client, csrf, "dr-cho", PASSWORD)
    response = client.post("/api/auth/logout")  # no X-CSRFToken
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert AuditEvent.objects.filter(action=Action.PERMISSION_DENIED, status_code=403).exists()
    assert client.get("/api/auth/me").status_code == 200  # still signed in: nothing changed


def test_wrong_password_is_401_json_and_audited(make_user):
    make_user("NURSE", username="nurse-park")
    client, csrf = csrf_client()
    response = login(client, csrf, "nurse-park", "wrong-password-123")
    assert response.status_code == 401
    assert response.json()["status"] == 401
    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="nurse-park")
    assert failed.filter(outcome=Outcome.FAILURE, actor_type="anonymous").count() == 1


def test_lock_out_after_repeated_failures_even_with_the_right_password(make_user):
    make_user("DOCTOR", username="dr-target")
    client, csrf = csrf_client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, csrf, "dr-target", "guess-000000").status_code == 401
    locked = login(client, csrf, "dr-target", "guess-000000")
    assert locked.status_code == 429
    assert locked.json()["error"] == "locked_out" and int(locked["Retry-After"]) > 0

    still_locked = login(client, csrf, "dr-target", PASSWORD)
    assert still_locked.status_code == 429
    assert "_auth_user_id" not in client.session
    events = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="dr-target")
    assert events.filter(outcome=Outcome.FAILURE).count() >= settings.AXES_FAILURE_LIMIT
    assert events.filter(outcome=Outcome.DENIED, status_code=429).exists()


def test_token_issue_use_and_revoke(make_user):
    make_user("RIB", username="rad-jung")
    client = APIClient()
    issued = client.post("/api/auth/token", {"username": "rad-jung", "password": PASSWORD}, format="json")
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert not AuthToken.objects.filter(digest=token).exists(), "tokens must be stored hashed"

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me").json()["username"] == "rad-jung"
    assert client.delete("/api/auth/token").status_code == 204
    revoked = client.get("/api/auth/me")
    assert revoked.status_code == 401
    assert revoked.json()["error"] in {"authentication_failed", "not_authenticated"}
    assert AuditEvent.objects.filter(action=Action.DELETE, resource_type="auth_token").exists()


def test_expired_token_is_refused_and_audited(make_user):
    user = make_user("DOCTOR")
    instance, token = token_issue(actor=user, user=user, ttl=timedelta(hours=1))
    AuthToken.objects.filter(pk=instance.pk).update(expiry=instance.expiry - timedelta(hours=2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, status_code=401).exists()


def test_forged_token_and_forged_session_cookie_are_refused(make_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 64)
    assert client.get("/api/auth/me").status_code == 401
    forged = APIClient()
    forged.cookies[settings.SESSION_COOKIE_NAME] = "not-a-real-session-key-0123456789"
    assert forged.get("/api/auth/me").status_code == 401


def test_service_accounts_cannot_sign_in_with_a_password(make_user):
    from acct.services import service_account_create

    account = service_account_create(actor=None, username="ai-server")
    account.set_password("a-password-someone-set")
    account.save()
    client, csrf = csrf_client()
    assert login(client, csrf, "ai-server", "a-password-someone-set").status_code == 401


def test_malformed_and_oversized_json_get_clear_400s(make_user):
    client, csrf = csrf_client()
    bad = client.post("/api/auth/login", "{not json", content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert bad.status_code == 400 and bad.json()["error"] == "parse_error"
    wrong_types = client.post(
        "/api/auth/login", {"username": ["a"], "password": 5}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert wrong_types.status_code == 400 and "username" in wrong_types.json()["fields"]
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024):
        huge = client.post(
            "/api/auth/login", {"username": "x" * 5000, "password": "y"}, format="json", HTTP_X_CSRFTOKEN=csrf
        )
    assert huge.status_code == 400 and huge["Content-Type"].startswith("application/json")


def test_security_headers():
    response = APIClient().get("/api/auth/csrf")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response
    assert response["X-Request-ID"]
    with override_settings(SECURE_HSTS_SECONDS=31536000):
        secure = APIClient().get("/api/auth/csrf", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def test_session_cookie_is_httponly(make_user):
    make_user("DOCTOR", username="dr-han")
    client, csrf = csrf_client()
    login(client, csrf, "dr-han", PASSWORD)
    assert client.cookies[settings.SESSION_COOKIE_NAME]["httponly"]


@pytest.mark.parametrize(
    ("permission", "allowed"),
    [
        (IsDoctor, {"DOCTOR"}),
        (IsRIB, {"RIB"}),
        (IsDoctorOrRIB, {"DOCTOR", "RIB"}),
        (IsStaffRole, {"DOCTOR", "RIB", "NURSE"}),
        (IsAdmin, {"ADMIN"}),
        (IsOps, {"OPS", "ADMIN"}),
        (IsService, {"SERVICE"}),
    ],
)
def test_role_permission_classes(make_user, rf, permission, allowed):
    for role in ("DOCTOR", "RIB", "NURSE", "ADMIN", "OPS", "SERVICE"):
        request = rf.get("/")
        request.user = make_user(role)
        assert permission().has_permission(request, None) is (role in allowed), (permission.__name__, role)


def test_a_user_may_hold_several_roles(make_user, rf):
    request = rf.get("/")
    request.user = make_user("NURSE", "OPS")
    assert IsStaffRole().has_permission(request, None) and IsOps().has_permission(request, None)
    assert not IsDoctor().has_permission(request, None)
