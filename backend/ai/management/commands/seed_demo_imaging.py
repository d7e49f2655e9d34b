"""Load the demo imaging of a local run (make run): see ai.demo. Idempotent; prints one line per step."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ai import demo
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Store the demo studies that `python -m ai_server.demo_imaging DIR` wrote in Orthanc (what it lacks), "
        "analyse them with the ai-server and sign off the results the manifest marks; idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="the generator's output (manifest.json and DICOM files)")
        parser.add_argument("--no-analyses", action="store_true", help="only store and record the studies")
        parser.add_argument("--wait", type=float, default=180, help="seconds to wait for the analyses (180)")

    def handle(self, *args, directory: Path, no_analyses: bool, wait: float, **options):
        if not (directory / "manifest.json").is_file():
            raise CommandError(f"{directory} holds no manifest.json: run `python -m ai_server.demo_imaging` first")
        started = time.monotonic()
        try:
            outcome = demo.seed(directory, analyse=not no_analyses, wait_seconds=wait, say=self.stdout.write)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"demo imaging: {outcome.stored} studies stored, {outcome.recorded} recorded, {outcome.submitted} "
            f"analyses requested, {outcome.signed_off} results signed off, {len(outcome.pending)} still running, "
            f"{len(outcome.skipped)} skipped, {outcome.superseded} earlier demo results superseded "
            f"({time.monotonic() - started:.1f} s)"
        )
