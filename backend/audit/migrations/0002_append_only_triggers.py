"""Database triggers that refuse UPDATE and DELETE on audit events, whoever connects.

TRUNCATE does not fire triggers: the cleanup after transactional tests relies on it (conftest.py),
and so would a deliberate purge by a DBA,
which the hash chain then reports.
"""

from django.db import migrations

TABLE = "audit_auditevent"


def trigger(operation: str) -> str:
    return (
        f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} FOR EACH ROW "
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only'"
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunSQL(trigger("UPDATE"), reverse_sql=f"DROP TRIGGER IF EXISTS {TABLE}_no_update"),
        migrations.RunSQL(trigger("DELETE"), reverse_sql=f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"),
    ]
