"""Audit events: one row per action, never changed, each chained to the one before by a SHA-256 hash.

Append-only is enforced three times: the model refuses updates and deletes, the queryset refuses bulk
updates and deletes, and database triggers (migration 0002) refuse UPDATE and DELETE from anyone. The
hash chain catches what gets past all three (someone with the database's root password).
"""

import hashlib
import json

from django.db import models


class Action(models.TextChoices):
    CREATE = "CREATE"
    READ = "READ"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    LOGIN = "LOGIN"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGOUT = "LOGOUT"
    EXPORT = "EXPORT"
    EXTERNAL_CALL = "EXTERNAL_CALL"
    PERMISSION_DENIED = "PERMISSION_DENIED"


class Outcome(models.TextChoices):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DENIED = "DENIED"


class ActorType(models.TextChoices):
    USER = "user"
    SERVICE = "service"
    ANONYMOUS = "anonymous"
    SYSTEM = "system"


GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # No foreign key: the trail must outlive the account and never block its deactivation.
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_roles = models.JSONField(default=list)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    resource_type = models.CharField(max_length=64, blank=True, db_index=True)
    resource_id = models.CharField(max_length=128, blank=True)
    patient_id = models.CharField(max_length=128, blank=True, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    system = models.CharField(max_length=32, blank=True)  # EXTERNAL_CALL: orthanc, fhir, emr, ...
    endpoint = models.CharField(max_length=512, blank=True)  # EXTERNAL_CALL: method and path
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("patient_id", "occurred_at")), models.Index(fields=("actor_id", "occurred_at"))]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or self.actor_type} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    HASHED_FIELDS = (
        "occurred_at",
        "actor_type",
        "actor_id",
        "actor_username",
        "actor_roles",
        "action",
        "resource_type",
        "resource_id",
        "patient_id",
        "outcome",
        "status_code",
        "source_ip",
        "user_agent",
        "request_id",
        "system",
        "endpoint",
        "detail",
    )

    def compute_hash(self) -> str:
        content = {name: getattr(self, name) for name in self.HASHED_FIELDS}
        content["occurred_at"] = self.occurred_at.isoformat(timespec="microseconds")
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(f"{self.prev_hash}|{canonical}".encode()).hexdigest()


class AuditChainHead(models.Model):
    """A single row naming the newest event. Locking it serialises writers, so the chain never forks,
    and comparing it with the newest row reveals events deleted from the end."""

    last_event_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit chain head at event {self.last_event_id}"
