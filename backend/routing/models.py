"""Routing rules: which arriving studies start which AI analysis (docs/routing.md).

A rule matches series by modality, sequence type, series description (a regular expression), body part
and sending AE title; an empty criterion matches anything. Each save writes a RoutingRuleVersion with the
whole rule, who and when. A RuleApplication is the record that an analysis was requested for one study,
series set and model version: its unique constraint makes that happen once, whatever runs concurrently.
"""

from django.conf import settings
from django.db import models

from ai.models import AIJob
from radiology.models import Series, Study

from .matching import validate_pattern

NEWEST = ""  # model_version for "the newest registered version"


class RoutingRule(models.Model):
    name = models.CharField(max_length=128, unique=True)
    enabled = models.BooleanField(default=True, db_index=True)
    order = models.PositiveIntegerField(default=100, help_text="rules are applied in this order (lowest first)")
    modality = models.CharField(max_length=16, blank=True, help_text="e.g. MR; empty: any")
    sequence_type = models.CharField(
        max_length=8, blank=True, choices=Series.Sequence.choices, help_text="T1, T1c, T2 or FLAIR; empty: any"
    )
    series_description = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_pattern],
        help_text="a regular expression searched in the series description, case-insensitive; empty: any",
    )
    body_part = models.CharField(max_length=64, blank=True, help_text="BodyPartExamined, e.g. BRAIN; empty: any")
    sending_ae = models.CharField(max_length=16, blank=True, help_text="the modality's AE title; empty: any")
    model_name = models.CharField(max_length=128)
    model_version = models.CharField(max_length=64, blank=True, help_text="empty: the newest registered version")
    requires_second_reader = models.BooleanField(
        default=False,
        db_default=False,
        help_text="its results need two approvals by two different radiologists before they are final",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SNAPSHOT_FIELDS = (
        "name", "enabled", "order", "modality", "sequence_type", "series_description", "body_part", "sending_ae",
        "model_name", "model_version", "requires_second_reader",
    )  # fmt: skip

    class Meta:
        db_table = "routing_rule"
        ordering = ("order", "id")

    def __str__(self) -> str:
        return f"{self.name} -> {self.model_name} {self.model_version or 'newest'}"

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in self.SNAPSHOT_FIELDS}


class RoutingRuleVersion(models.Model):
    """The rule as it was after one change (a deleted rule's last row says so). Keyed by the rule's id, not a
    foreign key: the history outlives the rule."""

    class Change(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    rule_pk = models.PositiveIntegerField(db_index=True)
    number = models.PositiveIntegerField()
    change = models.CharField(max_length=8, choices=Change.choices)
    snapshot = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "routing_rule_version"
        ordering = ("rule_pk", "-number")
        constraints = [models.UniqueConstraint(fields=("rule_pk", "number"), name="routing_rule_version_once")]

    def __str__(self) -> str:
        return f"rule {self.rule_pk} v{self.number} ({self.change})"


class RuleApplication(models.Model):
    """One analysis requested by a rule: at most one per study, series set and model version."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="rule_applications")
    series_key = models.CharField(max_length=64, help_text="sha256 of the sorted SeriesInstanceUIDs")
    series_instance_uids = models.JSONField()
    model_name = models.CharField(max_length=128)
    model_version = models.CharField(max_length=64, help_text="as resolved when applied (never 'newest')")
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.OneToOneField(AIJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "routing_rule_application"
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("study", "series_key", "model_name", "model_version"), name="routing_applied_once"
            )
        ]

    def __str__(self) -> str:
        return f"study {self.study_id}: {self.model_name} {self.model_version} (job {self.job_id})"
