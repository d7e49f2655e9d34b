from django.conf import settings
from django.core.management.base import BaseCommand

from emr.services import patient_cache_refresh


class Command(BaseCommand):
    help = "Refresh the CDSS patient cache from the EMR as the periodic task does (what changed), or --full."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="re-read every patient, in pages")

    def handle(self, *args, **options):
        if not settings.EMR_BASE_URL:
            self.stdout.write("no EMR configured (EMR_BASE_URL is empty): nothing to do")
            return
        result = patient_cache_refresh(full=options["full"] or None)
        kind = "full pass" if result.full else f"changed since {result.changed_since:%Y-%m-%d %H:%M:%S}"
        self.stdout.write(f"patient cache ({kind}): {result.read} patients from {settings.EMR_BASE_URL}")
