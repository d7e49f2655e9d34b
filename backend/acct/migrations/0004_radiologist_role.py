"""The RADIOLOGIST group: the sign-off permission of licensed radiologists (held together with RIB).

No existing RIB user gets it here: which of them are radiologists is for an ADMIN to say."""

from django.db import migrations


def create_radiologist_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="RADIOLOGIST")


def remove_radiologist_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="RADIOLOGIST").delete()


class Migration(migrations.Migration):
    dependencies = [("acct", "0003_role_groups")]

    operations = [migrations.RunPython(create_radiologist_group, remove_radiologist_group)]
