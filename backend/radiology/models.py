"""Radiology orders (RADIOLOGY_ORDERS) and the studies the PACS holds (RADIOLOGY_STUDIES).

Orthanc stays the source of truth for pixels; these rows are what the CDSS knows about each study:
its Orthanc id, the EMR patient it belongs to (or a reconciliation flag), the order it fulfils.
"""

from django.conf import settings
from django.db import models

from emr.models import Patient


class Order(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "REQUESTED"
        SCHEDULED = "SCHEDULED"
        IN_PROGRESS = "IN_PROGRESS"
        COMPLETED = "COMPLETED"
        CANCELLED = "CANCELLED"

    class Priority(models.TextChoices):
        ROUTINE = "ROUTINE"
        URGENT = "URGENT"
        STAT = "STAT"

    # Allowed lifecycle moves; anything else is refused.
    TRANSITIONS = {
        Status.REQUESTED: frozenset({Status.SCHEDULED, Status.CANCELLED}),
        Status.SCHEDULED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
        Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.CANCELLED}),
        Status.COMPLETED: frozenset(),
        Status.CANCELLED: frozenset(),
    }

    accession_number = models.CharField(max_length=16, unique=True, null=True, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="radiology_orders")
    ordered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(max_length=16)
    body_part = models.CharField(max_length=64)
    reason = models.TextField()
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "radiology_order"
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.accession_number} {self.modality} {self.body_part} ({self.status})"


class Study(models.Model):
    class Status(models.TextChoices):
        LINKED = "LINKED", "matched to an EMR patient"
        RECONCILE = "RECONCILE", "flagged for reconciliation"
        CONFLICT = "CONFLICT", "images naming another patient for a study the CDSS already holds"

    class Source(models.TextChoices):
        UPLOAD = "upload"
        PACS = "pacs", "arrived in the PACS directly (C-STORE), imported from its change feed"
        STOW = "stow"

    # Not unique: a CONFLICT row shares the UID of the study that holds it (Orthanc keeps both apart, its
    # study key includes the PatientID). One row per UID holds it (holds_uid True; NULL for the others).
    study_instance_uid = models.CharField(max_length=64, db_index=True)
    holds_uid = models.BooleanField(null=True, default=True, editable=False)
    orthanc_id = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies")
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    reconciliation_reason = models.CharField(max_length=255, blank=True)
    conflicting_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="conflicts",
        help_text="for a CONFLICT: the study that holds the StudyInstanceUID",
    )  # fmt: skip
    dicom_patient_id = models.CharField(max_length=64, blank=True, db_index=True)
    dicom_issuer_of_patient_id = models.CharField(max_length=64, blank=True)
    dicom_patient_name = models.CharField(max_length=255, blank=True)
    dicom_birth_date = models.DateField(null=True, blank=True)
    dicom_sex = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=16, blank=True, db_index=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies")
    modality = models.CharField(max_length=64, blank=True, db_index=True, help_text="modalities, \\-separated")
    study_date = models.DateField(null=True, blank=True, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    number_of_series = models.PositiveIntegerField(default=0)
    number_of_instances = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=8, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "radiology_study"
        ordering = ("-study_date", "-id")
        verbose_name_plural = "studies"
        constraints = [  # NULLs are distinct: any number of rows that do not hold the UID
            models.UniqueConstraint(fields=("study_instance_uid", "holds_uid"), name="radiology_study_uid_held_once")
        ]

    def __str__(self) -> str:
        return f"{self.study_instance_uid} ({self.modality} {self.study_date})"


class Series(models.Model):
    class Sequence(models.TextChoices):
        T1 = "T1"
        T1C = "T1c", "T1 with contrast"
        T2 = "T2"
        FLAIR = "FLAIR"
        OTHER = "", "not recognised"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64, db_index=True)  # a CONFLICT study may repeat it
    orthanc_id = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=16, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    sequence_type = models.CharField(max_length=8, choices=Sequence.choices, blank=True)
    # db_default: a checkout without these columns in its models still inserts series (one shared database)
    body_part = models.CharField(max_length=64, blank=True, default="", db_default="", help_text="BodyPartExamined")
    sending_ae = models.CharField(
        max_length=16, blank=True, default="", db_default="",
        help_text="the AE title that sent it by C-STORE (Orthanc's RemoteAET), else blank",
    )  # fmt: skip
    number_of_instances = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "radiology_series"
        ordering = ("series_number", "id")
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.series_number} {self.description} ({self.number_of_instances})"


class FeedCheckpoint(models.Model):
    """How far a change feed has been read (Orthanc's /changes sequence number)."""

    name = models.CharField(max_length=32, unique=True)
    last_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "radiology_feed_checkpoint"

    def __str__(self) -> str:
        return f"{self.name}: {self.last_seq}"
