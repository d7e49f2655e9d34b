"""The chain head's single row exists from the start. Writers lock it; creating it on the first write
instead would let concurrent first writers deadlock on InnoDB's gap and duplicate-key locks."""

from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
