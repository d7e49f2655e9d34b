"""Two-factor sign-in: ADMIN and OPS (and anyone who enrolled) pass a TOTP code or a recovery code after
the password; the password alone signs nobody in, for sessions and for API tokens."""

import io
import time

import pytest
from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from acct.api.views import PENDING, PENDING_TRIES
from acct.testing import code_for, totp_device
from audit.models import Action, AuditEvent

from .test_auth import PASSWORD, csrf_client, login

pytestmark = pytest.mark.django_db


def second_step(client: APIClient, code: str):
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post("/api/auth/login/otp", {"code": code}, format="json", HTTP_X_CSRFTOKEN=csrf)


def post(client: APIClient, path: str, body=None):
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(path, body or {}, format="json", HTTP_X_CSRFTOKEN=csrf)


def unthrottle(device) -> None:
    """django-otp makes the next try after a failure wait 1 s, 2 s, ...: a test does not wait."""
    type(device).objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)


@pytest.mark.parametrize("role", ["ADMIN", "OPS"])
def test_the_password_alone_does_not_sign_in_admin_or_ops(make_user, role):
    user = make_user(role, username=f"{role.lower()}-2fa")
    device = totp_device(user)
    client, csrf = csrf_client()

    first = login(client, csrf, user.username, PASSWORD)
    assert first.status_code == 202 and first.json() == {"otp_required": True, "enrolment_required": False}
    assert client.get("/api/auth/me").status_code == 401, "no session before the second step"

    wrong = second_step(client, "12345" if code_for(device) != "12345" else "54321")
    assert wrong.status_code == 401 and wrong.json()["error"] == "otp_invalid"
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username=user.username).exists()
    unthrottle(device)
    done = second_step(client, code_for(device))
    assert done.status_code == 200 and done.json()["roles"] == [role]
    assert client.get("/api/auth/me").json()["username"] == user.username
    assert AuditEvent.objects.filter(action=Action.LOGIN, actor_username=user.username).count() == 1


def test_a_code_is_used_once(make_user):
    user = make_user("ADMIN", username="admin-replay")
    device = totp_device(user)
    code = code_for(device)
    client, csrf = csrf_client()
    login(client, csrf, user.username, PASSWORD)
    assert second_step(client, code).status_code == 200

    thief, csrf = csrf_client()
    login(thief, csrf, user.username, PASSWORD)
    assert second_step(thief, code).status_code == 401, "a replayed code is refused"


def test_the_second_step_needs_the_first_and_gives_up_after_a_few_tries(make_user):
    user = make_user("OPS", username="ops-guess")
    device = totp_device(user)
    client, csrf = csrf_client()
    assert second_step(client, code_for(device)).status_code == 401, "no password step in this session"

    login(client, csrf, user.username, PASSWORD)
    wrong = "000000" if code_for(device) != "000000" else "111111"
    for _ in range(PENDING_TRIES):
        assert second_step(client, wrong).status_code == 401
        unthrottle(device)
    assert PENDING not in client.session
    assert second_step(client, code_for(device)).status_code == 401, "start again from the password"


def test_the_pending_step_expires(make_user):
    user = make_user("ADMIN", username="admin-slow")
    device = totp_device(user)
    client, csrf = csrf_client()
    login(client, csrf, user.username, PASSWORD)
    session = client.session
    session[PENDING] = {**session[PENDING], "since": time.time() - 301}
    session.save()
    assert second_step(client, code_for(device)).status_code == 401


def test_enrolment_at_first_sign_in_then_recovery_codes_work_once(make_user):
    user = make_user("ADMIN", username="admin-new")
    client, csrf = csrf_client()
    first = login(client, csrf, "admin-new", PASSWORD)
    assert first.status_code == 202 and first.json() == {"otp_required": False, "enrolment_required": True}
    assert second_step(client, "123456").json()["error"] == "enrolment_required"

    started = post(client, "/api/auth/otp/enrolment")
    assert started.status_code == 201, started.content
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/CDSS%3Aadmin-new?secret=" + secret)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert post(client, "/api/auth/otp/enrolment/confirm", {"code": "99999999"}).status_code == 400
    assert client.get("/api/auth/me").status_code == 401
    unthrottle(device)

    confirmed = post(client, "/api/auth/otp/enrolment/confirm", {"code": code_for(device)})
    assert confirmed.status_code == 200, confirmed.content
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert confirmed.json()["user"]["username"] == "admin-new"
    assert client.get("/api/auth/me").status_code == 200, "the enrolment completed the sign-in"
    assert AuditEvent.objects.filter(action=Action.CREATE, resource_type="otp_device").exists()

    other, csrf = csrf_client()
    assert login(other, csrf, "admin-new", PASSWORD).json()["otp_required"] is True
    assert post(other, "/api/auth/otp/enrolment").status_code == 403, "an enrolled account cannot enrol again"
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert second_step(other, codes[0].upper()).status_code == 200, "a recovery code, case and spaces aside"
    assert StaticToken.objects.filter(device__user=user).count() == 9
    again, csrf = csrf_client()
    login(again, csrf, "admin-new", PASSWORD)
    assert second_step(again, codes[0]).status_code == 401, "each recovery code works once"


def test_others_may_enrol_and_then_need_the_code(make_user):
    make_user("DOCTOR", username="dr-careful")
    client, csrf = csrf_client()
    assert login(client, csrf, "dr-careful", PASSWORD).status_code == 200, "optional for clinicians"
    started = post(client, "/api/auth/otp/enrolment")
    assert started.status_code == 201
    device = TOTPDevice.objects.get(user__username="dr-careful", confirmed=False)
    assert post(client, "/api/auth/otp/enrolment/confirm", {"code": code_for(device)}).status_code == 200
    assert TOTPDevice.objects.filter(user__username="dr-careful", confirmed=True).exists()

    later, csrf = csrf_client()
    assert login(later, csrf, "dr-careful", PASSWORD).status_code == 202


def test_a_password_step_for_someone_else_ends_the_session_signed_in_before(make_user):
    make_user("DOCTOR", username="dr-shared-pc")
    make_user("ADMIN", username="admin-shared-pc")
    client, csrf = csrf_client()
    assert login(client, csrf, "dr-shared-pc", PASSWORD).status_code == 200
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert login(client, csrf, "admin-shared-pc", PASSWORD).status_code == 202
    assert client.get("/api/auth/me").status_code == 401, "the doctor's session ended"


def test_a_session_from_before_enrolment_is_not_signed_in(client, make_user):
    """An ADMIN session that never passed a second factor (signed in before this rule) counts for nothing."""
    admin = make_user("ADMIN")
    api = APIClient()
    api.force_login(admin)
    assert api.get("/api/auth/me").status_code == 401


def test_tokens_for_admin_and_ops_need_a_code(make_user):
    user = make_user("OPS", username="ops-script")
    client = APIClient()
    credentials = {"username": "ops-script", "password": PASSWORD}
    not_enrolled = client.post("/api/auth/token", credentials, format="json")
    assert not_enrolled.status_code == 403 and not_enrolled.json()["error"] == "enrolment_required"

    device = totp_device(user)
    missing = client.post("/api/auth/token", credentials, format="json")
    assert missing.status_code == 401 and missing.json()["error"] == "otp_required"
    wrong = client.post("/api/auth/token", {**credentials, "otp": "1"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["error"] == "otp_invalid"
    unthrottle(device)
    issued = client.post("/api/auth/token", {**credentials, "otp": code_for(device)}, format="json")
    assert issued.status_code == 201
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="ops-script").count() == 3


def test_doctor_tokens_need_no_code(make_user):
    make_user("DOCTOR", username="dr-script")
    issued = APIClient().post("/api/auth/token", {"username": "dr-script", "password": PASSWORD}, format="json")
    assert issued.status_code == 201


def test_seed_demo_enrols_admin_and_ops_and_writes_their_secrets(tmp_path, monkeypatch):
    from base64 import b32decode

    from django.core.management import call_command

    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    secrets = tmp_path / "demo-otp.env"
    call_command("seed_demo", otp_file=secrets, stdout=io.StringIO())
    first = dict(line.split("=", 1) for line in secrets.read_text().split("\n") if "=" in line)
    assert set(first) == {"DEMO_OTP_SECRET_ADMIN", "DEMO_OTP_SECRET_OPS"}
    assert secrets.stat().st_mode & 0o077 == 0, "readable by its owner only"
    call_command("seed_demo", otp_file=secrets, stdout=io.StringIO())
    again = dict(line.split("=", 1) for line in secrets.read_text().split("\n") if "=" in line)
    assert again == first, "a second run keeps the devices"
    admin = TOTPDevice.objects.get(user__username="admin", confirmed=True)
    assert b32decode(first["DEMO_OTP_SECRET_ADMIN"]) == admin.bin_key
    client, csrf = csrf_client()
    assert login(client, csrf, "admin", "demo-password-for-tests").status_code == 202
    assert second_step(client, code_for(admin)).status_code == 200
