"""Rules in Django admin: saved through the services, so versioned and audited like the API's changes; a
hostile pattern is refused by the form."""

import pytest

from acct.testing import verified_login
from audit.models import Action, AuditEvent
from routing.models import RoutingRule, RoutingRuleVersion

pytestmark = pytest.mark.django_db

FORM = {"name": "admin rule", "enabled": "on", "order": "10", "modality": "MR", "sequence_type": "",
        "series_description": "t1", "body_part": "", "sending_ae": "", "model_name": "mri-lesion-demo",
        "model_version": ""}  # fmt: skip


def test_admin_changes_are_versioned_and_audited(client, make_user):
    superuser = make_user("ADMIN", is_superuser=True, is_staff=True)
    verified_login(client, superuser)
    assert client.post("/admin/routing/routingrule/add/", FORM).status_code == 302
    rule = RoutingRule.objects.get(name="admin rule")
    assert client.post(f"/admin/routing/routingrule/{rule.pk}/change/", {**FORM, "order": "20"}).status_code == 302
    refused = client.post(f"/admin/routing/routingrule/{rule.pk}/change/", {**FORM, "series_description": "(a*)*"})
    assert refused.status_code == 200 and "수량자".encode() in refused.content  # the form error, in Korean (admin)
    assert client.post(f"/admin/routing/routingrule/{rule.pk}/delete/", {"post": "yes"}).status_code == 302

    versions = RoutingRuleVersion.objects.filter(rule_pk=rule.pk).order_by("number")
    assert [(v.change, v.snapshot["order"], v.changed_by_id) for v in versions] == [
        ("create", 10, superuser.pk), ("update", 20, superuser.pk), ("delete", 20, superuser.pk)
    ]  # fmt: skip
    actions = AuditEvent.objects.filter(resource_type="routing_rule", resource_id=str(rule.pk)).order_by("id")
    assert list(actions.values_list("action", flat=True)) == [Action.CREATE, Action.UPDATE, Action.DELETE]
