from django.core.management.base import BaseCommand, CommandError

from audit import archive
from audit.checkpoints import CheckpointError
from core.dbaccess import runs_as_owner


class Command(BaseCommand):
    help = (
        "Archive every closed month of the audit chain to the write-once store (signed, locked for "
        "AUDIT_ARCHIVE_RETENTION_DAYS, read back and verified). With --purge, then delete from the database "
        "the archived months older than AUDIT_DATABASE_MONTHS (the owner's account: CDSS_DB_OWNER=1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--purge", action="store_true", help="delete archived months past the database's window")
        parser.add_argument(
            "--months", type=int, default=None, help="months kept in the database (AUDIT_DATABASE_MONTHS)"
        )

    def handle(self, *args, purge=False, months=None, **options):
        if purge and not runs_as_owner():
            raise CommandError("--purge deletes rows: run it as the owner account (CDSS_DB_OWNER=1)")
        try:
            while (done := archive.archive_next()) is not None:
                self.stdout.write(
                    f"archived {done.month}: positions {done.first_position} to {done.last_position}, "
                    f"{done.events} events, {done.size} bytes ({done.data})"
                )
            if purge:
                self.stdout.write(f"purged {archive.purge(months=months)} archived events from the database")
        except (archive.ArchiveError, CheckpointError) as exc:
            raise CommandError(str(exc)) from exc
