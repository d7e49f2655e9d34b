"""AI analyses: jobs sent to the ai-server (AI_JOBS), their results (AI_RESULTS) and the expression
profiles uploaded as their input.

A job's lifecycle and a result's review each allow only the moves listed in TRANSITIONS; the services
call `check_transition` before every change, so an impossible move is refused with a clear reason
(core.errors.InvalidTransition, answered 409).
The properties of AIResult (patient_id, study_id, order_id, model_name, model_version, conclusion) are
what fhir_sync's DiagnosticReport and Observation transforms read.
"""

import uuid
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _

from core import errors
from emr.models import Patient
from radiology.models import Study

from .observations import fhir_metrics


class ExpressionUpload(models.Model):
    """A gene-expression profile (CSV/TSV) uploaded through Django, stored in the artifacts bucket."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="expression_uploads")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    bucket = models.CharField(max_length=63)
    key = models.CharField(max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(help_text="data rows (the header excluded)")
    columns = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ai_expression_upload"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.original_name or self.key} ({self.size} bytes)"


class AIJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"

    class Task(models.TextChoices):
        SEGMENTATION = "segmentation", "MRI segmentation"
        OMICS_RISK = "omics-risk", "expression risk score"

    class Stage(models.TextChoices):
        FETCHING = "fetching"
        PREPROCESSING = "preprocessing"
        INFERENCE = "inference"
        WRITING = "writing"

    # RUNNING -> QUEUED: the poll re-queued a job that passed its deadline.
    TRANSITIONS = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.CANCELLED}),
        Status.RUNNING: frozenset({Status.QUEUED, Status.COMPLETED, Status.FAILED, Status.CANCELLED}),
        Status.COMPLETED: frozenset(),
        Status.FAILED: frozenset(),
        Status.CANCELLED: frozenset(),
    }
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.CharField(max_length=16, choices=Task.choices)
    model_name = models.CharField(max_length=128)
    model_version = models.CharField(max_length=64, blank=True, help_text="blank: the newest (filled from the result)")
    model_sha256 = models.CharField(max_length=64, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="ai_jobs")
    study = models.ForeignKey(Study, null=True, blank=True, on_delete=models.PROTECT, related_name="ai_jobs")
    expression_upload = models.ForeignKey(
        ExpressionUpload, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    input = models.JSONField(help_text="the `input` of the ai.job.create message")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=1, help_text="ai.job.create messages published so far")
    deadline = models.DateTimeField(db_index=True, help_text="of the current attempt")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ai_jobs")
    failure_reason = models.TextField(blank=True)
    progress_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    progress_fraction = models.FloatField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=16, blank=True)
    # db_default: a checkout (or the other colour) without these columns still inserts (one shared database)
    second_reader_required = models.BooleanField(
        default=False,
        db_default=False,
        help_text="its result needs the approval of two different radiologists (a routing rule asked)",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ai_job"
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("status", "deadline"), name="ai_job_due")]

    def __str__(self) -> str:
        return f"{self.model_name} {self.model_version or '(newest)'} {self.status} [{self.pk}]"

    def check_transition(self, new: str) -> None:
        errors.check_transition(_("job %(id)s") % {"id": self.pk}, self.status, new, self.TRANSITIONS)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class AIResultQuerySet(models.QuerySet):
    def current(self) -> "AIResultQuerySet":
        """Not superseded by a newer analysis of the same input (AIResult.superseded_by)."""
        return self.filter(superseded_by__isnull=True)

    def signed(self) -> "AIResultQuerySet":
        """Results a radiologist signed off (approved, amended or not) and not superseded: the ONE definition
        of a signed result, for every count or chart of clinical findings (docs/ai.md, "Sign-off")."""
        return self.current().filter(status=AIResult.Status.FINAL)

    def awaiting_sign_off(self) -> "AIResultQuerySet":
        """Not signed yet (no approval, or with a second reader required the first approval only), and not
        superseded."""
        return self.current().filter(status=AIResult.Status.PRELIMINARY)

    def awaiting_second_read(self) -> "AIResultQuerySet":
        return self.awaiting_sign_off().filter(first_reader__isnull=False)


class AIResultManager(models.Manager.from_queryset(AIResultQuerySet)):
    def get_queryset(self):
        # the FHIR transforms read the job, its study and the study's order through the properties below
        return super().get_queryset().select_related("job", "job__study")


def disclaimer_in(texts: dict[str, str] | None, language: str | None, fallback: str = "") -> str:
    """A model card's disclaimer ({language code: text}) in `language` ("ko", "en-us" ...), else in English."""
    texts = texts or {}
    return texts.get((language or "").split("-")[0].lower()) or texts.get("en") or fallback


class AIResult(models.Model):
    class Status(models.TextChoices):
        """The review status; lower-cased it is the FHIR DiagnosticReport/Observation status."""

        PRELIMINARY = "PRELIMINARY", "preliminary (not reviewed yet)"
        FINAL = "FINAL", "approved by radiology"
        CANCELLED = "CANCELLED", "rejected by radiology"

    TRANSITIONS = {
        Status.PRELIMINARY: frozenset({Status.FINAL, Status.CANCELLED}),
        Status.FINAL: frozenset(),
        Status.CANCELLED: frozenset(),
    }

    job = models.OneToOneField(AIJob, on_delete=models.PROTECT, related_name="result")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PRELIMINARY, db_index=True)
    raw_metrics = models.JSONField(default=dict, blank=True, help_text="the metrics as the ai-server reported them")
    artifacts = models.JSONField(default=list, blank=True, help_text="[{name, bucket, key, content_type, size}]")
    summary = models.TextField(blank=True)
    disclaimer = models.TextField(blank=True, help_text="the model card's disclaimer in English")
    disclaimers = models.JSONField(
        default=dict, blank=True, help_text="the model card's disclaimer by language code, e.g. {en, ko}"
    )
    orthanc_seg_instance_id = models.CharField(max_length=64, blank=True)
    orthanc_seg_series_uid = models.CharField(max_length=64, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_comment = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # a second reader required (AIJob.second_reader_required): the first approval, the result still PRELIMINARY;
    # the second approval, by another radiologist, fills reviewed_* and makes it FINAL
    first_reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_read_comment = models.TextField(blank=True, default="", db_default="")
    first_read_at = models.DateTimeField(null=True, blank=True)
    # replaced by a newer analysis of the same input (today only the demo seeding does it, ai.demo): kept, but
    # no longer signed nor awaiting sign-off
    superseded_by = models.ForeignKey(
        AIJob,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the newer analysis that replaced this result",
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    # an amendment of a FINAL result: it stays FINAL, version + 1, the previous version in AIResultRevision
    version = models.PositiveIntegerField(default=1, help_text="1 as reported; + 1 per amendment")
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amended_at = models.DateTimeField(null=True, blank=True)
    amendment_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AIResultManager()

    class Meta:
        db_table = "ai_result"
        ordering = ("-created_at", "-id")
        verbose_name = "AI result"

    def __str__(self) -> str:
        return f"result {self.pk} of job {self.job_id} ({self.status})"

    @cached_property  # raw_metrics is written once, with the result; the FHIR transforms read this per metric
    def metrics(self) -> dict[str, Any]:
        """{name: number} or {name: {"value", "unit"}}: the part of raw_metrics that becomes one FHIR
        Observation each."""
        return fhir_metrics(self.raw_metrics or {})

    def disclaimer_in(self, language: str | None) -> str:
        """The model card's disclaimer in `language`; results stored before cards held translations have the
        English one only."""
        return disclaimer_in(self.disclaimers, language, self.disclaimer)

    def check_transition(self, new: str) -> None:
        errors.check_transition(_("result %(id)s") % {"id": self.pk}, self.status, new, self.TRANSITIONS)

    @property
    def is_signed(self) -> bool:
        """The same rule as AIResult.objects.signed(), for one row."""
        return self.status == self.Status.FINAL and self.superseded_by_id is None

    @property
    def second_reader_required(self) -> bool:
        return self.job.second_reader_required

    @property
    def awaiting_second_read(self) -> bool:
        """Approved by a first reader, waiting for a second, different radiologist."""
        return self.status == self.Status.PRELIMINARY and self.first_reader_id is not None and not self.superseded_by_id

    @property
    def is_amended(self) -> bool:
        return self.status == self.Status.FINAL and self.version > 1

    def artifact(self, name: str) -> dict | None:
        return next((item for item in self.artifacts or [] if item.get("name") == name), None)

    # --- what the FHIR transforms read ---------------------------------------------------------------
    @property
    def patient_id(self) -> int:
        return self.job.patient_id

    @property
    def study_id(self) -> int | None:
        return self.job.study_id

    @property
    def order_id(self) -> int | None:
        return self.job.study.order_id if self.job.study_id else None

    @property
    def model_name(self) -> str:
        return self.job.model_name

    @property
    def model_version(self) -> str:
        return self.job.model_version

    @property
    def report_status(self) -> str:
        """The FHIR DiagnosticReport status (STANDARDS.md §3): any change after final is `amended`."""
        return "amended" if self.is_amended else self.status.lower()

    @property
    def conclusion(self) -> str:
        parts = [self.summary, self.disclaimer]
        if self.first_read_at:
            parts.append(f"First read: approved: {self.first_read_comment}")
        if self.reviewed_at:
            verdict = "approved" if self.status == self.Status.FINAL else "rejected"
            parts.append(f"Radiology review: {verdict}: {self.review_comment}")
        if self.is_amended:
            parts.append(f"Amended (version {self.version}): {self.amendment_reason}")
        return " ".join(part.strip() for part in parts if part and part.strip())


class AIResultRevision(models.Model):
    """A version of a result as it was before an amendment replaced it (never changed or deleted)."""

    # The result's fields a revision keeps, copied from it when an amendment replaces it; the admin and
    # the API show these and superseded_at.
    SNAPSHOT_FIELDS = (
        "version",
        "status",
        "summary",
        "review_comment",
        "reviewed_by",
        "reviewed_at",
        "amended_by",
        "amended_at",
        "amendment_reason",
    )

    result = models.ForeignKey(AIResult, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=AIResult.Status.choices)
    summary = models.TextField(blank=True)
    review_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amended_at = models.DateTimeField(null=True, blank=True)
    amendment_reason = models.TextField(blank=True)
    superseded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ai_result_revision"
        ordering = ("result", "-version")
        constraints = [models.UniqueConstraint(fields=("result", "version"), name="ai_result_revision_once")]

    def __str__(self) -> str:
        return f"result {self.result_id} version {self.version}"
