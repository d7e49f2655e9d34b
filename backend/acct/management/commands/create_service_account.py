from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from acct.services import service_account_create, token_issue


class Command(BaseCommand):
    help = "Create (or reuse) a service account and print a new API token for it, once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--ttl-days", type=int, default=90, help="token lifetime in days (default 90)")

    def handle(self, username, ttl_days, **options):
        try:
            account = service_account_create(actor=None, username=username)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        instance, token = token_issue(actor=None, user=account, ttl=timedelta(days=ttl_days))
        self.stdout.write(f"service account {username}: token (shown once, expires {instance.expiry:%Y-%m-%d}):")
        self.stdout.write(token)
