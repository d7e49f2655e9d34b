from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints


class Command(BaseCommand):
    help = (
        "Seal what is committed, recompute the audit trail's hash chain and compare it with the signed archive "
        "manifests and the checkpoints above the archives in the write-once store (--archives: every checkpoint "
        "and every archive). Exit 1 on evidence of tampering, 2 when it could not verify."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--restored",
            action="store_true",
            help="the database is a restored backup: checkpoints beyond its end name the events it lost",
        )
        parser.add_argument(
            "--archives",
            action="store_true",
            help="also read every checkpoint and recompute every link of the archived months (reads them all)",
        )

    def handle(self, *args, archives=False, restored=False, **options):
        report = checkpoints.verify(archives=archives, restored=restored)
        if report.reason:
            raise CommandError(f"audit chain broken: {report.reason} ({report.checked} seals verified before it)")
        if report.error:
            raise CommandError(
                f"audit chain consistent ({report.checked} seals) but not verified: {report.error}", returncode=2
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain intact: {report.checked} events verified, {report.checkpoints} checkpoints matched"
                + (
                    f", from position {report.archived + 1} on (positions before it archived)"
                    if report.archived
                    else ""
                )
                + (
                    f"; checkpoints record the chain up to position {report.lost_after}: the events after position "
                    f"{report.archived + report.checked} are not in this backup"
                    if report.lost_after
                    else ""
                )
            )
        )
        for lost in report.restores:
            self.stdout.write(f"acknowledged: {lost}")
