"""Patient-list latency (p50, p95) served from the CDSS cache versus straight from the EMR, same run.

    cd backend && .venv/bin/python benchmarks/patient_list_latency.py [--requests 200]

Three ways to get one page of 50 patients, each timed over the same number of requests:
  cache   GET /api/patients (the CDSS, from its MariaDB patient cache; audited)
  live    GET /api/patients?source=emr (the CDSS, searching the EMR through its client; audited)
  direct  GET <stand-in>/apis/default/api/patient?_limit=50 (a plain HTTP call to the OpenEMR stand-in)
The stand-in runs as its own process with 64 seeded patients.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from _django import bench_database

EMR_CLIENT = ("bench-client", "bench-client-secret")
EMR_USER = ("bench-api", "bench-api-password")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    from standins.process import StandinProcess

    with tempfile.TemporaryDirectory() as scratch, bench_database():
        emr = StandinProcess(
            "standins.openemr",
            Path(scratch) / "openemr.sqlite3",
            [
                "--password-grant",
                "1",
                "--client-id",
                EMR_CLIENT[0],
                "--client-secret",
                EMR_CLIENT[1],
                "--username",
                EMR_USER[0],
                "--password",
                EMR_USER[1],
            ],
        ).start()
        try:
            from django.conf import settings
            from rest_framework.test import APIClient

            from acct.models import User
            from acct.services import token_issue, user_set_roles
            from emr.services import patient_cache_refresh_all

            settings.EMR_BASE_URL = emr.origin
            settings.EMR_CLIENT_ID, settings.EMR_CLIENT_SECRET = EMR_CLIENT
            settings.EMR_USERNAME, settings.EMR_PASSWORD = EMR_USER
            cached = patient_cache_refresh_all()
            doctor = User.objects.create_user("bench-doctor", password="bench-password-123")
            user_set_roles(actor=None, user=doctor, roles={"DOCTOR"})
            _, token = token_issue(actor=doctor, user=doctor)
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            direct = requests.Session()
            emr_token = direct.post(
                f"{emr.origin}/oauth2/default/token",
                timeout=10,
                data={
                    "grant_type": "password",
                    "user_role": "users",
                    "username": EMR_USER[0],
                    "password": EMR_USER[1],
                    "client_id": EMR_CLIENT[0],
                    "client_secret": EMR_CLIENT[1],
                    "scope": "openid api:oemr user/patient.read",
                },
            ).json()["access_token"]
            direct.headers["Authorization"] = f"Bearer {emr_token}"

            ways = {
                "cache": lambda: api.get("/api/patients", {"page_size": 50}),
                "live": lambda: api.get("/api/patients", {"source": "emr"}),
                "direct": lambda: direct.get(
                    f"{emr.origin}/apis/default/api/patient", params={"_limit": 50}, timeout=10
                ),
            }
            timings: dict[str, list[float]] = {name: [] for name in ways}
            for name, call in ways.items():  # warm-up
                assert call().status_code == 200, name
            for _ in range(args.requests):  # interleaved, so drift on the machine hits all three alike
                for name, call in ways.items():
                    started = time.perf_counter()
                    call()
                    timings[name].append((time.perf_counter() - started) * 1000)
        finally:
            emr.stop()

    print(f"patients in the cache: {cached}; requests per way: {args.requests}")
    summary = {name: percentiles(samples) for name, samples in timings.items()}
    for name, (p50, p95) in summary.items():
        print(f"{name:7s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    print(
        f"ratio cache/direct: p50 {summary['cache'][0] / summary['direct'][0]:.2f}, "
        f"p95 {summary['cache'][1] / summary['direct'][1]:.2f}"
    )
    print(
        f"ratio cache/live  : p50 {summary['cache'][0] / summary['live'][0]:.2f}, "
        f"p95 {summary['cache'][1] / summary['live'][1]:.2f}"
    )


if __name__ == "__main__":
    main()
