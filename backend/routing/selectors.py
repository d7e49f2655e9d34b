"""Reads of the routing app (ADMIN only, checked by the API). The dry run reads a study: audited with its
patient."""

from collections.abc import Mapping

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from audit.client import AuditClient
from audit.models import Action
from core.errors import NotFound
from radiology.models import Study

from .matching import Evaluation, evaluate
from .models import RoutingRule, RoutingRuleVersion


def rule_list(*, user) -> QuerySet[RoutingRule]:
    AuditClient.log_list_read(user=user, resource_type="routing_rule_list", filters={})
    return RoutingRule.objects.all()


def rule_for_change(*, pk: int) -> RoutingRule:
    rule = RoutingRule.objects.filter(pk=pk).first()
    if rule is None:
        raise NotFound(_("No routing rule %(id)s.") % {"id": pk})
    return rule


def rule_get(*, user, pk: int) -> RoutingRule:
    rule = rule_for_change(pk=pk)
    AuditClient.log_event(Action.READ, actor=user, resource_type="routing_rule", resource_id=rule.pk)
    return rule


def rule_versions(*, user, pk: int) -> QuerySet[RoutingRuleVersion]:
    """Every version of the rule, newest first; also of a deleted rule (its history stays)."""
    versions = RoutingRuleVersion.objects.filter(rule_pk=pk).select_related("changed_by").order_by("-number")
    if not versions.exists():
        raise NotFound(_("No routing rule %(id)s.") % {"id": pk})
    AuditClient.log_event(Action.READ, actor=user, resource_type="routing_rule_version", resource_id=pk)
    return versions


def dry_run(*, user, rule: Mapping, study_pk: int) -> Evaluation:
    """Whether `rule` (a saved rule's snapshot or an unsaved body) would start an analysis of the study, and
    why; changes nothing."""
    study = Study.objects.select_related("patient").filter(pk=study_pk).first()
    if study is None:
        raise NotFound(_("No study %(id)s.") % {"id": study_pk})
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="radiology_study", resource_id=study.pk,
        patient_id=study.patient.emr_uuid if study.patient else "", detail={"view": "routing_dry_run"},
    )  # fmt: skip
    return evaluate(rule, study, study.series.all())
