"""What was written to the FHIR server for each CDSS entity, and what could not be written."""

from django.db import models


class FhirMapping(models.Model):
    """Our entity (type + id) <-> the FHIR resource written for it, with the hash of what was sent, so an
    unchanged entity is never sent again and an update carries If-Match with the version we wrote."""

    entity_type = models.CharField(max_length=32)
    entity_id = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=32)
    fhir_id = models.CharField(max_length=64)
    fhir_version = models.CharField(max_length=32)
    content_hash = models.CharField(max_length=64, help_text="sha256 of the resource as last sent")
    synced_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("entity_type", "entity_id"), name="fhir_mapping_once")]
        indexes = [models.Index(fields=("resource_type", "fhir_id"))]

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id} -> {self.resource_type}/{self.fhir_id} v{self.fhir_version}"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.fhir_id}"


class DeadLetter(models.Model):
    """An entity the sync gave up on: the FHIR server refused it (400/422: with its OperationOutcome) or
    stayed unavailable through every retry. ADMIN replays or discards it (admin, /api/fhir/dead-letters)."""

    class Status(models.TextChoices):
        OPEN = "open"
        REPLAYED = "replayed"
        DISCARDED = "discarded"

    TRANSITIONS = {Status.OPEN: frozenset({Status.REPLAYED, Status.DISCARDED})}  # the others are final

    entity_type = models.CharField(max_length=32, db_index=True)
    entity_id = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    reason = models.TextField()
    error_class = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    operation_outcome = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="task runs before giving up")
    retryable = models.BooleanField(default=False, help_text="gave up after retries (else refused at once)")
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    discard_reason = models.TextField(blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("entity_type", "entity_id", "status"))]

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id} ({self.status}) {self.reason[:60]}"


class PendingSync(models.Model):
    """A sync asked for and not yet done: written with the outbox row of every `fhir_sync.sync_entity`
    task (receivers.py), deleted once the entity is written. A worker claims up to FHIR_BUNDLE_MAX_ENTRIES
    of them for one transaction Bundle (locked with SKIP LOCKED while claiming, so two workers do not send
    the same entity at once). The Celery message stays the guarantee that each sync runs; these rows only
    let one task do the work of many."""

    entity_type = models.CharField(max_length=32)
    entity_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="the task sending it now")
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="then another worker may send it")

    class Meta:
        indexes = [models.Index(fields=("entity_type", "entity_id"))]

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id} (pending since {self.created_at:%Y-%m-%d %H:%M:%S})"
