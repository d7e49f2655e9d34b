"""Roles are managed in Django admin, by ADMIN only, and each change is audited with the before and after.
Only a superuser touches superusers and the flags beyond roles; admin pages with patient data audit reads."""

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from acct.models import User
from acct.services import user_set_roles
from acct.testing import code_for, totp_device, verified_login
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def change_form(user: User, *groups: str, **extra) -> dict:
    """What the change form posts for `user` with those role groups (plus any field an attacker adds)."""
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [Group.objects.get(name=name).pk for name in groups],
        **extra,
    }


def test_admin_role_manages_roles_in_django_admin(client, make_user):
    admin = make_user("ADMIN", username="it-admin")
    nurse = make_user("NURSE", username="nurse-kang")
    assert admin.is_staff and not admin.is_superuser
    verified_login(client, admin)
    page = client.get(f"/admin/acct/user/{nurse.pk}/change/")
    assert page.status_code == 200

    response = client.post(f"/admin/acct/user/{nurse.pk}/change/", change_form(nurse, "NURSE", "DOCTOR"))
    assert response.status_code == 302, response.content[:2000]
    nurse.refresh_from_db()
    assert set(nurse.groups.values_list("name", flat=True)) == {"NURSE", "DOCTOR"}
    event = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="user_roles", resource_id=str(nurse.pk))
    event = event.get(actor_username="it-admin")
    assert event.detail["before"] == ["NURSE"] and event.detail["after"] == ["DOCTOR", "NURSE"]


def test_an_admin_who_is_not_a_superuser_cannot_make_anyone_a_superuser(client, make_user):
    admin = make_user("ADMIN", username="it-admin-2")
    verified_login(client, admin)
    for target in (admin, make_user("DOCTOR", username="dr-plain")):
        form = change_form(target, *sorted(target.roles), is_superuser="on", is_staff="on")
        form["user_permissions"] = [1, 2, 3]
        response = client.post(f"/admin/acct/user/{target.pk}/change/", form)
        assert response.status_code == 302, response.content[:2000]
        target.refresh_from_db()
        assert not target.is_superuser, target.username
        assert not target.user_permissions.exists()
    doctor = User.objects.get(username="dr-plain")
    assert not doctor.is_staff, "is_staff follows the roles, not the form"
    flags = AuditEvent.objects.filter(resource_type="user", detail__changed__contains="is_superuser")
    assert not flags.exists()


def test_an_admin_cannot_change_a_superuser_nor_set_their_password(client, make_user):
    admin = make_user("ADMIN", username="it-admin-3")
    root = make_user("ADMIN", username="root-user", is_superuser=True)
    hash_before = root.password
    verified_login(client, admin)

    assert client.post(f"/admin/acct/user/{root.pk}/change/", change_form(root, "ADMIN")).status_code == 403
    password = client.post(
        f"/admin/acct/user/{root.pk}/password/", {"password1": "taken-over-12345", "password2": "taken-over-12345"}
    )
    assert password.status_code == 403
    assert client.post(f"/admin/acct/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.password == hash_before and root.is_superuser and root.is_active


def test_a_superuser_may_grant_superuser_and_it_is_audited_with_before_and_after(client, make_user):
    root = make_user("ADMIN", username="root-2", is_superuser=True)
    doctor = make_user("DOCTOR", username="dr-promoted")
    verified_login(client, root)
    form = change_form(doctor, "DOCTOR", is_superuser="on")
    assert client.post(f"/admin/acct/user/{doctor.pk}/change/", form).status_code == 302
    doctor.refresh_from_db()
    assert doctor.is_superuser and doctor.is_staff
    event = AuditEvent.objects.filter(resource_type="user", resource_id=str(doctor.pk), action=Action.UPDATE)
    event = event.get(detail__changed__contains="is_superuser")
    assert event.actor_username == "root-2"
    assert event.detail["before"]["is_superuser"] is False and event.detail["after"]["is_superuser"] is True


def test_a_password_change_is_audited_without_the_hash(client, make_user):
    admin = make_user("ADMIN", username="it-admin-4")
    nurse = make_user("NURSE", username="nurse-reset")
    verified_login(client, admin)
    response = client.post(
        f"/admin/acct/user/{nurse.pk}/password/",
        {"password1": "brand-new-pass-2026", "password2": "brand-new-pass-2026", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    nurse.refresh_from_db()
    assert nurse.check_password("brand-new-pass-2026")
    event = AuditEvent.objects.get(
        resource_type="user", resource_id=str(nurse.pk), detail__changed__contains="password"
    )
    assert event.actor_username == "it-admin-4"
    assert event.detail["before"] == {"password": "previous"} and event.detail["after"] == {"password": "new"}
    assert nurse.password not in str(event.detail)


def test_role_changes_by_the_service_are_audited_with_before_and_after(make_user):
    user = make_user("NURSE", username="nurse-to-ops")
    user_set_roles(actor=None, user=user, roles={"OPS", "ADMIN"})
    event = AuditEvent.objects.filter(resource_type="user_roles", resource_id=str(user.pk)).latest("id")
    assert event.detail["before"] == ["NURSE"] and event.detail["after"] == ["ADMIN", "OPS"]
    staff = AuditEvent.objects.filter(resource_type="user", resource_id=str(user.pk)).latest("id")
    assert staff.detail["changed"] == ["is_staff"] and staff.detail["after"] == {"is_staff": True}


@pytest.mark.parametrize("role", ["DOCTOR", "RIB", "NURSE", "OPS"])
def test_other_roles_cannot_enter_django_admin(client, make_user, role):
    user = make_user(role)
    assert not user.is_staff
    client.force_login(user)
    response = client.get("/admin/acct/user/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_django_admin_needs_the_second_factor(client, make_user):
    """A session that passed only the password (or an admin signed in before enrolling) gets nowhere."""
    admin = make_user("ADMIN", username="it-admin-5")
    client.force_login(admin)
    response = client.get("/admin/acct/user/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    device = totp_device(admin)
    client.logout()
    login = {"username": "it-admin-5", "password": PASSWORD, "next": "/admin/"}
    refused = client.post("/admin/login/", {**login, "otp_token": "000000" if code_for(device) != "000000" else "1"})
    assert refused.status_code == 200 and client.get("/admin/acct/user/").status_code == 302
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="it-admin-5").exists()
    device.refresh_from_db()
    device.throttle_reset()
    accepted = client.post("/admin/login/", {**login, "otp_token": code_for(device)})
    assert accepted.status_code == 302, accepted.context["form"].errors
    assert accepted["Location"] == "/admin/"
    assert client.get("/admin/acct/user/").status_code == 200


def test_admin_pages_with_patient_data_audit_each_read(client, make_user):
    from ai.tests.factories import make_job

    job = make_job(make_user("DOCTOR"))
    root = make_user("ADMIN", username="root-reader", is_superuser=True)
    verified_login(client, root)
    assert client.get("/admin/ai/aijob/").status_code == 200
    assert client.get(f"/admin/ai/aijob/{job.pk}/change/").status_code == 200
    assert client.get("/admin/ai/airesult/").status_code == 200
    reads = AuditEvent.objects.filter(action=Action.READ, actor_username="root-reader").order_by("id")
    listing, detail, results = reads
    assert listing.resource_type == "admin:ai.aijob" and listing.detail["patients"] == [job.patient.emr_uuid]
    assert listing.detail["view"] == "list" and listing.patient_id == job.patient.emr_uuid
    assert detail.resource_id == str(job.pk) and detail.patient_id == job.patient.emr_uuid
    assert results.resource_type == "admin:ai.airesult" and results.detail["rows"] == 0


def test_an_admin_removes_a_lost_second_factor_but_not_a_superusers(client, make_user):
    admin = make_user("ADMIN", username="it-admin-6")
    ops = make_user("OPS", username="ops-lost-phone")
    root = make_user("ADMIN", username="root-keeps", is_superuser=True)
    for user in (ops, root):
        totp_device(user)
    verified_login(client, admin)
    form = {"action": "reset_second_factor", "_selected_action": [ops.pk, root.pk]}
    assert client.post("/admin/acct/user/", form).status_code == 302
    assert not TOTPDevice.objects.filter(user=ops).exists()
    assert TOTPDevice.objects.filter(user=root).exists()
    event = AuditEvent.objects.get(action=Action.DELETE, resource_type="otp_device", resource_id=str(ops.pk))
    assert event.actor_username == "it-admin-6"
