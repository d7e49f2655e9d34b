from django.conf import settings
from django.core.management.base import BaseCommand

from emr.services import patient_cache_refresh_all


class Command(BaseCommand):
    help = "Re-read every EMR patient into the CDSS patient cache (what the periodic task does)."

    def handle(self, *args, **options):
        if not settings.EMR_BASE_URL:
            self.stdout.write("no EMR configured (EMR_BASE_URL is empty): nothing to do")
            return
        self.stdout.write(f"patient cache: {patient_cache_refresh_all()} patients from {settings.EMR_BASE_URL}")
