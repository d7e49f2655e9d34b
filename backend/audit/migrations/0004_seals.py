"""Seals replace the hash columns and the chain head row (issue 16): writers only INSERT events, one sealer
appends a seal per event. Existing events are sealed here in id order; no row is ever updated again, so
the application's account needs no UPDATE on any audit table (core/dbaccess.py)."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

SEAL_TABLE = "audit_auditseal"


def seal_existing(apps, schema_editor):
    from audit.chain import seal_hash
    from audit.models import GENESIS_HASH

    event_model, seal_model = apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditSeal")
    prev, position, last_id, now = GENESIS_HASH, 0, 0, timezone.now()
    while True:
        events = list(event_model.objects.filter(id__gt=last_id).order_by("id")[:2000])
        if not events:
            return
        seals = []
        for event in events:
            position += 1
            prev = seal_hash(prev, position, event)
            seals.append(seal_model(position=position, event_id=event.pk, hash=prev, sealed_at=now))
        seal_model.objects.bulk_create(seals)
        last_id = events[-1].pk


def trigger(operation: str) -> str:
    return (
        f"CREATE TRIGGER {SEAL_TABLE}_no_{operation.lower()} BEFORE {operation} ON {SEAL_TABLE} FOR EACH ROW "
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit seals are append-only'"
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_head_row")]

    operations = [
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("position", models.BigIntegerField(primary_key=True, serialize=False)),
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="seal",
                        to="audit.auditevent",
                    ),
                ),
                ("hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.DeleteModel(name="AuditChainHead"),
        migrations.RunSQL(trigger("UPDATE"), reverse_sql=f"DROP TRIGGER IF EXISTS {SEAL_TABLE}_no_update"),
        migrations.RunSQL(trigger("DELETE"), reverse_sql=f"DROP TRIGGER IF EXISTS {SEAL_TABLE}_no_delete"),
    ]
