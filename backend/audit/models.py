"""Audit events: one row per action, never changed; seals link them into a SHA-256 hash chain afterwards.

A request only INSERTs its event (no lock, no read of the chain): one sealer (audit.chain.seal) later
appends a seal row per event, `hash = sha256(previous hash | position | event id | content)`, as
append-only transparency logs do. Both tables are insert-only: the model and queryset refuse updates and
deletes, database triggers refuse UPDATE and DELETE from anyone (migrations 0002, 0004), and the
application's database account holds only SELECT and INSERT on `audit_*` tables (core/dbaccess.py).
The chain, checked against checkpoints signed outside the database (audit.checkpoints), catches what
gets past all of that (the database's root password).
"""

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
    """Events and seals alike: rows are added, never changed or removed."""

    def update(self, **kwargs):
        raise AppendOnlyError("the audit trail cannot be changed")

    def delete(self):
        raise AppendOnlyError("the audit trail cannot be deleted from")


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # No foreign key: the trail must outlive the account and never block its deactivation.
    actor_id = models.BigIntegerField(null=True, blank=True)  # indexed with occurred_at (Meta)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_roles = models.JSONField(default=list)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    resource_type = models.CharField(max_length=64, blank=True, db_index=True)
    resource_id = models.CharField(max_length=128, blank=True)
    patient_id = models.CharField(max_length=128, blank=True)  # indexed with occurred_at (Meta)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    system = models.CharField(max_length=32, blank=True)  # EXTERNAL_CALL: orthanc, fhir, emr, ...
    endpoint = models.CharField(max_length=512, blank=True)  # EXTERNAL_CALL: method and path
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("patient_id", "occurred_at")), models.Index(fields=("actor_id", "occurred_at"))]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or self.actor_type} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be changed")
        kwargs["force_insert"] = True  # one INSERT, no transaction of its own: one round trip in autocommit
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


class AuditSeal(models.Model):
    """The event's place in the chain. Written only by the sealer, one row per event, never changed: the
    newest row is the chain's head (no row is updated, so none needs a lock)."""

    position = models.BigIntegerField(primary_key=True)  # 1, 2, 3, ... without gaps
    # No database constraint: the seal must outlive a row removed by hand, so that verification names it.
    event = models.OneToOneField(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="seal")
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    objects = AuditEventQuerySet.as_manager()

    def __str__(self) -> str:
        return f"audit seal {self.position} (event {self.event_id})"

    def save(self, *args, **kwargs):
        raise AppendOnlyError("seals are written by the sealer only, in bulk")

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("seals cannot be deleted")


class AuditArchive(models.Model):
    """A month of the chain moved to the write-once store (audit.archive): positions first to last, whose
    events and seals the owner's purge may then delete from the database (the DELETE triggers let only
    rows inside such a range go, migration 0006). Written once the stored archive was read back and
    verified; never changed. Verification trusts the signed manifest in the store, not this row."""

    month = models.CharField(max_length=7)  # YYYY-MM: the month the seals were made (UTC)
    first_position = models.BigIntegerField(unique=True)
    last_position = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    last_hash = models.CharField(max_length=64)
    manifest = models.CharField(max_length=255)  # the signed manifest's object name
    archived_at = models.DateTimeField()

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("first_position",)

    def __str__(self) -> str:
        return f"audit archive {self.month} (positions {self.first_position} to {self.last_position})"
