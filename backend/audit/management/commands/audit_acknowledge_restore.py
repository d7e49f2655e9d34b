import getpass
import os
import socket

from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints, restores


class Command(BaseCommand):
    help = (
        "After a restore of a backup into the application database: record, signed and locked in the audit "
        "bucket, that the chain ends at the restored position and that the checkpoints beyond it are lost with "
        "their events (audit.restores). Refused unless the chain verifies as a restored backup. Exit 1 when "
        "refused, 2 when the store is unreachable or there is no key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reason", required=True, help="why the database was restored (kept with the record)")
        parser.add_argument("--backup", required=True, help="the backup restored (its file or object name)")
        parser.add_argument(
            "--by",
            default=f"{os.environ.get('SUDO_USER') or getpass.getuser()}@{socket.gethostname()}",
            help="who restored it (default: the user running this, on this host)",
        )

    def handle(self, *args, reason, backup, by, **options):
        try:
            restore = restores.acknowledge(backup=backup, reason=reason, by=by)
        except restores.RestoreError as exc:
            raise CommandError(str(exc)) from exc
        except checkpoints.CheckpointError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if restore is None:
            self.stdout.write("nothing to acknowledge: the chain reaches every checkpoint")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"acknowledged {restore.label}: the chain ends at position {restore.position} "
                f"({restore.hash[:12]}); checkpoints up to position {restore.lost_position} "
                f"({restore.lost_hash[:12]}) lost ({restore.key})"
            )
        )
