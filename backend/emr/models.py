"""The EMR's patients as the CDSS last saw them (EMR_PATIENT_CACHE), and what happened to each
patient in the CDSS and its neighbours (TIMELINE_EVENTS)."""

from django.db import models


class Patient(models.Model):
    """A cached copy of an OpenEMR patient. The EMR stays the source of truth; rows are refreshed on
    demand after EMR_PATIENT_CACHE_TTL_SECONDS and by a periodic task."""

    emr_uuid = models.CharField(max_length=64, unique=True)
    emr_pid = models.CharField(max_length=32, blank=True, help_text="OpenEMR's numeric pid, used by some routes")
    mrn = models.CharField(max_length=64, blank=True, db_index=True, help_text="pubpid: the hospital's record number")
    family_name = models.CharField(max_length=128, blank=True, db_index=True)
    given_name = models.CharField(max_length=128, blank=True, db_index=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    record = models.JSONField(default=dict, help_text="the EMR's patient object as last fetched")
    fetched_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "emr_patient_cache"
        ordering = ("family_name", "given_name", "id")

    def __str__(self) -> str:
        return f"{self.family_name} {self.given_name} ({self.mrn or self.emr_uuid})"


class TimelineEvent(models.Model):
    class Kind(models.TextChoices):
        ENCOUNTER = "encounter"
        ORDER = "order"
        STUDY = "study"
        AI_RESULT = "ai_result"
        FHIR_SYNC = "fhir_sync"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=255)
    source_type = models.CharField(max_length=32, blank=True, help_text="what the event is about: encounter, order...")
    source_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "emr_timeline_event"
        ordering = ("-occurred_at", "-id")
        indexes = [models.Index(fields=("patient", "-occurred_at"))]
        constraints = [
            models.UniqueConstraint(fields=("patient", "kind", "source_type", "source_id"), name="timeline_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind}: {self.title}"


class CacheRefreshState(models.Model):
    """Where the periodic cache refresh stands (one row): the high-water mark from which the next
    incremental run asks the EMR what changed, and when the last full pass finished. Both move only
    when a run succeeds, so a failed run leaves no gap: the next one starts from the same mark."""

    name = models.CharField(max_length=32, unique=True, default="patients")
    changed_since = models.DateTimeField(
        null=True, blank=True, help_text="start of the last successful run minus EMR_REFRESH_OVERLAP_SECONDS"
    )
    last_full_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "emr_cache_refresh_state"

    def __str__(self) -> str:
        return f"{self.name}: changes since {self.changed_since}"
