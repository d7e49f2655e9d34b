"""One group per role, with the Django permissions acct.roles.ROLE_PERMISSIONS gives it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("DOCTOR", "RIB", "NURSE", "ADMIN", "OPS", "SERVICE")
ADMIN_PERMISSIONS = (
    "acct.view_user", "acct.add_user", "acct.change_user",
    "auth.view_group",
    "audit.view_auditevent",
    "knox.view_authtoken", "knox.delete_authtoken",
)  # (a later change to a role's permissions is a new migration)


def create_role_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    admin = Group.objects.get(name="ADMIN")
    for dotted in ADMIN_PERMISSIONS:
        app_label, codename = dotted.split(".")
        admin.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("acct", "0002_user_is_service_account"),
        ("audit", "0002_append_only_triggers"),
        ("knox", "0009_extend_authtoken_field"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
