"""Run a benchmark against a throw-away copy of the schema on the real MariaDB (test_cdss_bench unless
named: two benchmarks running at once must not share one)."""

import contextlib
import os
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]
# the backend first; the repository root after it for the stand-ins (standins/) some benchmarks start
sys.path[:0] = [str(BACKEND), str(BACKEND.parent)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdss.settings.test")


@contextlib.contextmanager
def bench_database(name: str = "test_cdss_bench"):
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    settings.DATABASES["default"]["TEST"]["NAME"] = name
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
