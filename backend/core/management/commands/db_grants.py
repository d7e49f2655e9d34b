"""Re-apply the application role's table rights (migrate does it by itself; core.dbaccess)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.dbaccess import grants_apply, runs_as_owner


class Command(BaseCommand):
    help = "Grant the application's database role its rights on every table (run as the owner: CDSS_DB_OWNER=1)."

    def handle(self, *args, **options):
        if not runs_as_owner():
            account = settings.DATABASE_APP_USER
            raise CommandError(f"connected as the application account {account}; set CDSS_DB_OWNER=1")
        count = grants_apply()
        self.stdout.write(f"role {settings.DATABASE_APP_ROLE}: rights granted on {count} tables")
