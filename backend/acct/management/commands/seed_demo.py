"""Create the demo accounts of a local run. Idempotent: an existing account gets its password reset."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cdss.settings.base import required

DEMO_USERS = (
    # username, superuser/staff, what the account is for
    ("admin", True, "administrator: Django admin at /admin/"),
)


class Command(BaseCommand):
    help = "Create or refresh the demo accounts; the password is DEMO_PASSWORD from the environment."

    def handle(self, *args, **options):
        password = required("DEMO_PASSWORD")
        if len(password) < 12:
            raise CommandError("DEMO_PASSWORD must be at least 12 characters long.")
        users = get_user_model()
        for username, is_admin, purpose in DEMO_USERS:
            user, created = users.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = is_admin
            user.set_password(password)
            user.save()
            self.stdout.write(f"{'created' if created else 'updated'} {username}: {purpose}")
