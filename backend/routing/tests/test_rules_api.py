"""The rules API (ADMIN): every change audited and versioned, patterns refused, the dry run without side
effects."""

import pytest

from ai.models import AIJob
from ai.tests.factories import make_study
from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from routing.models import RoutingRule, RoutingRuleVersion, RuleApplication

pytestmark = pytest.mark.django_db

RULE = {"name": "FLAIR to lesion model", "modality": "MR", "sequence_type": "FLAIR", "series_description": "flair",
        "body_part": "", "sending_ae": "", "model_name": "mri-lesion-demo", "model_version": "newest"}  # fmt: skip


def test_create_change_and_delete_are_audited_and_versioned(admin):
    created = admin.post("/api/routing/rules", RULE, format="json")
    assert created.status_code == 201, created.data
    rule_id = created.data["id"]
    assert created.data["model_version"] == ""  # "newest"
    assert admin.patch(f"/api/routing/rules/{rule_id}", {"enabled": False}, format="json").data["enabled"] is False
    assert admin.patch(f"/api/routing/rules/{rule_id}", {"enabled": False}, format="json").status_code == 200
    assert admin.put(f"/api/routing/rules/{rule_id}", {**RULE, "order": 5}, format="json").data["order"] == 5
    assert admin.delete(f"/api/routing/rules/{rule_id}").status_code == 204
    assert not RoutingRule.objects.filter(pk=rule_id).exists()

    versions = admin.get(f"/api/routing/rules/{rule_id}/versions")
    assert versions.status_code == 200
    assert [(v["number"], v["change"]) for v in versions.data] == [(4, "delete"), (3, "update"), (2, "update"),
                                                                    (1, "create")]  # fmt: skip
    assert versions.data[2]["snapshot"]["enabled"] is False and versions.data[1]["snapshot"]["order"] == 5
    assert {v["changed_by"] for v in versions.data} == {admin.user.username}
    events = AuditEvent.objects.filter(resource_type="routing_rule", resource_id=str(rule_id))
    changes = list(events.exclude(action=Action.READ).order_by("id").values_list("action", flat=True))
    assert changes == [Action.CREATE, Action.UPDATE, Action.UPDATE, Action.DELETE]
    assert all(e.actor_id == admin.user.pk for e in events)


def test_a_hostile_pattern_is_refused_with_the_reason(admin):
    response = admin.post("/api/routing/rules", {**RULE, "series_description": "(a+)+$"}, format="json")
    assert response.status_code == 400
    assert "quantifier" in str(response.data["fields"]["series_description"])
    assert not RoutingRuleVersion.objects.exists()


def test_dry_run_explains_and_changes_nothing(admin, make_rule):
    rule = make_rule(**{k: v for k, v in RULE.items() if k != "model_version"})
    study = make_study()
    outbox, audit = OutboxMessage.objects.count(), AuditEvent.objects.exclude(action=Action.READ).count()

    response = admin.post(f"/api/routing/rules/{rule.pk}/dry-run", {"study": study.pk}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["matches"] is True
    assert "series 1 (AX FLAIR): modality MR matches MR" in response.data["reasons"]
    unsaved = admin.post("/api/routing/rules/dry-run", {"study": study.pk, "rule": {"sequence_type": "T2"}},
                         format="json")  # fmt: skip
    assert unsaved.status_code == 200 and unsaved.data["matches"] is False
    assert "series 1 (AX FLAIR): sequence type FLAIR does not match T2" in unsaved.data["reasons"]

    assert not AIJob.objects.filter(study=study).exists() and not RuleApplication.objects.exists()
    assert (OutboxMessage.objects.count(), AuditEvent.objects.exclude(action=Action.READ).count()) == (outbox, audit)
    read = AuditEvent.objects.filter(action=Action.READ, resource_type="radiology_study", resource_id=str(study.pk))
    assert read.count() == 2 and read.first().patient_id == study.patient.emr_uuid
    assert admin.post(f"/api/routing/rules/{rule.pk}/dry-run", {"study": 10**9}, format="json").status_code == 404
    refused = admin.post("/api/routing/rules/dry-run", {"study": study.pk, "rule": {"series_description": "(x*)*"}},
                         format="json")  # fmt: skip
    assert refused.status_code == 400


def test_a_waiting_study_is_explained(admin, make_rule):
    study = make_study(linked=False)
    response = admin.post(f"/api/routing/rules/{make_rule().pk}/dry-run", {"study": study.pk}, format="json")
    assert response.data["matches"] is False
    assert response.data["reasons"][0] == f"study {study.pk} is RECONCILE: rules wait until it is linked to a patient"


def test_rules_are_listed_in_their_order(admin, make_rule):
    make_rule(name="second", order=20)
    make_rule(name="first", order=10)
    assert [r["name"] for r in admin.get("/api/routing/rules").data] == ["first", "second"]


def test_the_second_reader_option_is_saved_and_versioned(admin):
    created = admin.post("/api/routing/rules", RULE, format="json")
    assert created.status_code == 201 and created.data["requires_second_reader"] is False
    rule_id = created.data["id"]
    changed = admin.patch(f"/api/routing/rules/{rule_id}", {"requires_second_reader": True}, format="json")
    assert changed.status_code == 200 and changed.data["requires_second_reader"] is True
    assert RoutingRule.objects.get(pk=rule_id).requires_second_reader is True
    [latest, first] = admin.get(f"/api/routing/rules/{rule_id}/versions").data
    assert (first["snapshot"]["requires_second_reader"], latest["snapshot"]["requires_second_reader"]) == (False, True)
