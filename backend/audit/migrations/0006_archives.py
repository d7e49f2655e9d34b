"""Monthly archives (audit.archive): the record of each month moved to the write-once store, and DELETE
triggers that let the owner's purge remove only events and seals inside an archived range. UPDATE stays
refused to everyone; the application's account holds no DELETE on audit tables anyway (core/dbaccess.py)."""

from django.db import migrations, models

EVENTS, SEALS, ARCHIVES = "audit_auditevent", "audit_auditseal", "audit_auditarchive"


def delete_trigger(table: str) -> str:
    """BEFORE DELETE: refuse unless the row lies in an archived range."""
    if table == EVENTS:
        archived = (
            f"SELECT 1 FROM {SEALS} s JOIN {ARCHIVES} a ON s.position BETWEEN a.first_position AND a.last_position "
            "WHERE s.event_id = OLD.id"
        )
        message = "audit events are append-only"
    else:
        archived = f"SELECT 1 FROM {ARCHIVES} a WHERE OLD.position BETWEEN a.first_position AND a.last_position"
        message = "audit seals are append-only"
    return (
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
        f"IF NOT EXISTS ({archived}) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'; END IF"
    )


def strict_delete_trigger(table: str) -> str:
    kind = "events" if table == EVENTS else "seals"
    return (
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit {kind} are append-only'"
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_one_index_per_lookup")]

    operations = [
        migrations.CreateModel(
            name="AuditArchive",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.CharField(max_length=7)),
                ("first_position", models.BigIntegerField(unique=True)),
                ("last_position", models.BigIntegerField(unique=True)),
                ("prev_hash", models.CharField(max_length=64)),
                ("last_hash", models.CharField(max_length=64)),
                ("manifest", models.CharField(max_length=255)),
                ("archived_at", models.DateTimeField()),
            ],
            options={"ordering": ("first_position",)},
        ),
        *(
            operation
            for table in (EVENTS, SEALS)
            for operation in (
                migrations.RunSQL(
                    [f"DROP TRIGGER {table}_no_delete"], reverse_sql=[strict_delete_trigger(table)]
                ),
                migrations.RunSQL(
                    [delete_trigger(table)], reverse_sql=[f"DROP TRIGGER IF EXISTS {table}_no_delete"]
                ),
            )
        ),
    ]
