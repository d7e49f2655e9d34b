"""Writes of the routing app: rules (each change audited and versioned) and applying them to a study.

apply_rules runs in a Celery worker (routing.tasks), queued through the outbox whenever radiology records or
links a study (routing.receivers). Each rule that matches requests its analysis through ai.services.job_submit,
on behalf of the routing service account, in the transaction that inserts the RuleApplication: the unique
constraint on (study, series set, model, version) lets one of any number of concurrent applies through.
"""

import hashlib
import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from acct.services import service_account_create
from ai import selectors as ai_selectors
from ai import services as ai_services
from audit.client import AuditClient
from audit.models import Action
from core.errors import InvalidInput, NotFound
from radiology.models import Study

from .matching import evaluate
from .models import NEWEST, RoutingRule, RoutingRuleVersion, RuleApplication

logger = logging.getLogger(__name__)

SERVICE_USERNAME = "routing-rules"  # the service account that rule-started jobs are requested by


# --- rules: created, changed and deleted by ADMIN (API and Django admin) -----------------------------------
def _validated(rule: RoutingRule) -> None:
    try:
        rule.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(str(messages[0]), field=field) from None


def _versioned(rule: RoutingRule, *, actor, change: str, rule_pk: int | None = None) -> RoutingRuleVersion:
    pk = rule_pk or rule.pk
    last = RoutingRuleVersion.objects.select_for_update().filter(rule_pk=pk).order_by("-number").first()
    version = RoutingRuleVersion.objects.create(
        rule_pk=pk,
        number=(last.number if last else 0) + 1,
        change=change,
        snapshot=rule.snapshot(),
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    action = {"create": Action.CREATE, "update": Action.UPDATE, "delete": Action.DELETE}[change]
    AuditClient.log_event(
        action, actor=actor, resource_type="routing_rule", resource_id=pk,
        detail={"version": version.number, "rule": version.snapshot},
    )  # fmt: skip
    return version


@transaction.atomic
def rule_create(*, actor, **fields) -> RoutingRule:
    rule = RoutingRule(**fields)
    _validated(rule)
    rule.save()
    _versioned(rule, actor=actor, change=RoutingRuleVersion.Change.CREATE)
    return rule


@transaction.atomic
def rule_update(*, actor, rule: RoutingRule, **fields) -> RoutingRule:
    """Change the given fields (a PUT gives them all); a save that changes nothing writes no version."""
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    before = rule.snapshot()
    for name, value in fields.items():
        setattr(rule, name, value)
    _validated(rule)
    if rule.snapshot() == before:
        return rule
    rule.save()
    _versioned(rule, actor=actor, change=RoutingRuleVersion.Change.UPDATE)
    return rule


@transaction.atomic
def rule_delete(*, actor, rule: RoutingRule) -> None:
    """The rule goes; its versions stay, the last one saying it was deleted."""
    pk = rule.pk
    _versioned(rule, actor=actor, change=RoutingRuleVersion.Change.DELETE)
    RoutingRule.objects.filter(pk=pk).delete()


# --- applying the rules to a study ------------------------------------------------------------------------
def service_user():
    """The account rule-started jobs are requested by (made on first use; a SERVICE account, no password)."""
    user = get_user_model().objects.filter(username=SERVICE_USERNAME, is_service_account=True).first()
    return user or service_account_create(actor=None, username=SERVICE_USERNAME)


def series_key(series_instance_uids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(series_instance_uids)).encode()).hexdigest()


def _natural(version: str) -> tuple:
    """Orders versions as the ai-server's registry does (1.10.0 after 1.9.0)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in version.replace("-", ".").split(".")
    )


def resolve_version(model_name: str, model_version: str, *, actor) -> str:
    """The version a rule's job asks for: its own, or the newest the ai-server has registered now (so that a
    newer version, once registered, analyses the next change of a study again). Raises SystemUnavailable
    while the ai-server is away (the task retries) and NotFound for a model it does not know."""
    if model_version != NEWEST:
        return model_version
    versions = [m.get("version", "") for m in ai_selectors.model_list(user=actor) if m.get("name") == model_name]
    if not versions:
        raise NotFound(_("The AI server has no model %(name)s.") % {"name": model_name})
    return max(versions, key=_natural)


def apply_rules(*, study_pk: int) -> list[RuleApplication]:
    """Apply every enabled rule, in order, to the study; returns the applications made now (an analysis
    already requested for the same study, series set, model and version is not requested again). A study
    not LINKED to a patient is left alone: linking queues this again."""
    study = Study.objects.filter(pk=study_pk).first()
    if study is None or study.status != Study.Status.LINKED:
        return []
    actor, made = service_user(), []
    series = list(study.series.all())
    for rule in RoutingRule.objects.filter(enabled=True).order_by("order", "id"):
        with translation.override("en"):  # the reasons go into the audit trail
            evaluation = evaluate(rule.snapshot(), study, series)
        if not evaluation.matches:
            continue
        try:
            version = resolve_version(rule.model_name, rule.model_version, actor=actor)
        except NotFound as exc:  # a rule naming a model the ai-server lacks: the others still apply
            logger.warning("rule %s not applied to study %s: %s", rule.pk, study.pk, exc.message)
            continue
        try:
            application = _requested(study, rule, evaluation.series_instance_uids, version, actor, evaluation.reasons)
        except InvalidInput as exc:  # job_submit's refusal (e.g. a series gone meanwhile): the next rule
            logger.warning("rule %s not applied to study %s: %s", rule.pk, study.pk, exc.message)
            continue
        if application is not None:
            made.append(application)
    return made


@transaction.atomic
def _requested(study, rule, uids, version, actor, reasons) -> RuleApplication | None:
    # The study's row lock orders concurrent applies to one study; the unique constraint is the guarantee.
    study = Study.objects.select_for_update().select_related("patient").get(pk=study.pk)
    if study.status != Study.Status.LINKED:
        return None
    key = series_key(uids)
    if RuleApplication.objects.filter(study=study, series_key=key, model_name=rule.model_name,
                                      model_version=version).exists():  # fmt: skip
        return None
    try:
        with transaction.atomic():
            application = RuleApplication.objects.create(
                study=study, series_key=key, series_instance_uids=uids, model_name=rule.model_name,
                model_version=version, rule=rule,
            )  # fmt: skip
    except IntegrityError:
        return None
    job = ai_services.job_submit(
        actor=actor, model=rule.model_name, model_version=version, study=study, series_instance_uids=uids,
        second_reader=rule.requires_second_reader,
    )  # fmt: skip
    application.job = job
    application.save(update_fields=("job",))
    AuditClient.log_event(
        Action.CREATE, actor=actor, resource_type="routing_rule_application", resource_id=application.pk,
        patient_id=study.patient.emr_uuid,
        detail={"rule": rule.pk, "study": study.pk, "job": str(job.pk), "model": rule.model_name,
                "version": version, "series_instance_uids": uids, "reasons": reasons,
                "second_reader": rule.requires_second_reader},
    )  # fmt: skip
    return application
