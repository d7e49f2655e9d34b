"""Roles are managed in Django admin, by ADMIN only, and each change is audited."""

import pytest
from django.contrib.auth.models import Group

from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def test_admin_role_manages_roles_in_django_admin(client, make_user):
    admin = make_user("ADMIN", username="it-admin")
    nurse = make_user("NURSE", username="nurse-kang")
    assert admin.is_staff and not admin.is_superuser
    client.force_login(admin)  # client.login() has no request, which django-axes refuses
    page = client.get(f"/admin/acct/user/{nurse.pk}/change/")
    assert page.status_code == 200

    form = {
        "username": "nurse-kang",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [Group.objects.get(name="NURSE").pk, Group.objects.get(name="DOCTOR").pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(f"/admin/acct/user/{nurse.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    nurse.refresh_from_db()
    assert set(nurse.groups.values_list("name", flat=True)) == {"NURSE", "DOCTOR"}
    event = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="user", resource_id=str(nurse.pk)).get()
    assert event.actor_username == "it-admin" and event.detail["roles"] == ["DOCTOR", "NURSE"]


@pytest.mark.parametrize("role", ["DOCTOR", "RIB", "NURSE", "OPS"])
def test_other_roles_cannot_enter_django_admin(client, make_user, role):
    user = make_user(role)
    assert not user.is_staff
    client.force_login(user)
    response = client.get("/admin/acct/user/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
