"""Create the demo accounts of a local run. Idempotent: an existing account gets its password reset."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from acct.roles import Role
from acct.services import user_set_roles
from cdss.settings.base import required

DEMO_USERS = (
    # username, first name, last name, roles, superuser
    ("admin", "Admin", "", {Role.ADMIN}, True),
    ("doctor", "지훈", "김", {Role.DOCTOR}, False),
    ("radiologist", "서연", "이", {Role.RIB}, False),
    ("nurse", "Emily", "Park", {Role.NURSE}, False),
    ("ops", "Ops", "", {Role.OPS}, False),
)


class Command(BaseCommand):
    help = "Create or refresh the demo accounts; every password is DEMO_PASSWORD from the environment."

    def handle(self, *args, **options):
        password = required("DEMO_PASSWORD")
        if len(password) < 12:
            raise CommandError("DEMO_PASSWORD must be at least 12 characters long.")
        users = get_user_model()
        for username, first_name, last_name, roles, superuser in DEMO_USERS:
            user, created = users.objects.get_or_create(username=username)
            user.first_name, user.last_name, user.is_superuser = first_name, last_name, superuser
            user.set_password(password)
            user.save()
            user_set_roles(actor=None, user=user, roles=roles)
            self.stdout.write(f"{'created' if created else 'updated'} {username} ({', '.join(sorted(roles))})")
