"""EMR patient-cache refresh at hospital scale: the initial load and an incremental refresh with 1 %
of the patients changed, against the OpenEMR stand-in seeded with 100,000 patients (same run, same
machine), and the old way (every patient re-read and upserted one by one) as the baseline.

    cd backend && .venv/bin/python benchmarks/emr_refresh.py [--patients 100000] [--changed 0.01]
                                                             [--baseline-sample 2000]

  initial load   patient_cache_refresh(full=True): the full pass, 200 patients a page, bulk upserts
  incremental    patient_cache_refresh() after --changed of the patients were edited in the EMR
                 (Standard API PUTs): FHIR Patient?_lastUpdated=ge<mark> pages, then each changed
                 patient read and stored in bulk
  baseline       the old refresh (pages read, then patient_upsert_from_emr per patient: a SELECT and
                 an UPDATE each, on the filled cache) timed on --baseline-sample patients and
                 EXTRAPOLATED per patient to the whole count (re-running it on 100,000 would take
                 tens of minutes on the shared machine)
The stand-in is seeded through its control endpoint (POST /__control__/patients). Outbox rows are
written as in production, but not published to RabbitMQ (the shared broker is not flooded with
100,000 FHIR sync tasks).
"""

import argparse
import tempfile
import time
from pathlib import Path

import requests
from _django import bench_database

EMR_CLIENT = ("bench-client", "bench-client-secret")
EMR_USER = ("bench-api", "bench-api-password")
GOAL_INCREMENTAL_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--baseline-sample", type=int, default=2000)
    args = parser.parse_args()
    from standins.process import StandinProcess

    with tempfile.TemporaryDirectory() as scratch, bench_database("test_cdss_bench_emr"):
        emr = StandinProcess(
            "standins.openemr",
            Path(scratch) / "openemr.sqlite3",
            ["--password-grant", "1", "--client-id", EMR_CLIENT[0], "--client-secret", EMR_CLIENT[1],
             "--username", EMR_USER[0], "--password", EMR_USER[1]],
        ).start()  # fmt: skip
        try:
            run(emr, args)
        finally:
            emr.stop()


def run(emr, args) -> None:
    from django.conf import settings

    from core import outbox
    from emr.clients.openemr_client import get_openemr_client
    from emr.models import CacheRefreshState, Patient
    from emr.services import patient_cache_refresh, patient_upsert_from_emr

    settings.EMR_BASE_URL = emr.origin
    settings.EMR_CLIENT_ID, settings.EMR_CLIENT_SECRET = EMR_CLIENT
    settings.EMR_USERNAME, settings.EMR_PASSWORD = EMR_USER
    outbox.publish_pending = lambda **_: 0  # rows are still written; nothing goes to the shared broker

    started = time.perf_counter()
    seeded = requests.get(f"{emr.origin}/apis/default/fhir/Patient?_count=1", timeout=10)  # 401: just alive
    assert seeded.status_code == 401
    existing = len(list(get_openemr_client().iter_patients()))
    added = requests.post(
        f"{emr.origin}/__control__/patients",
        json={"count": args.patients - existing, "date": "2026-01-01 00:00:00"},
        timeout=600,
    )
    added.raise_for_status()
    print(f"stand-in seeded: {args.patients} patients in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    initial = patient_cache_refresh(full=True)
    initial_s = time.perf_counter() - started
    assert initial.read == Patient.objects.count() == args.patients, (initial.read, Patient.objects.count())
    print(f"initial load (full pass, pages of 200, bulk upserts): {initial.read} patients in {initial_s:.1f} s")

    changed = int(args.patients * args.changed)
    session, token = requests.Session(), write_token(emr)
    picks = list(Patient.objects.order_by("?").values_list("emr_uuid", flat=True)[:changed])
    for puuid in picks:
        response = session.put(
            f"{emr.origin}/apis/default/api/patient/{puuid}",
            json={"phone_home": "010-0000-0000"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
    mark = CacheRefreshState.objects.get(name="patients").changed_since

    started = time.perf_counter()
    incremental = patient_cache_refresh()
    incremental_s = time.perf_counter() - started
    assert not incremental.full and incremental.changed_since == mark
    assert incremental.read == changed, (incremental.read, changed)
    assert Patient.objects.filter(emr_uuid__in=picks, record__phone_home="010-0000-0000").count() == changed
    verdict = "meets" if incremental_s < GOAL_INCREMENTAL_S else "MISSES"
    print(
        f"incremental refresh, {changed} changed ({args.changed:.0%}): {incremental.read} read in {incremental_s:.2f} s"
        f" ({verdict} the goal of < {GOAL_INCREMENTAL_S:.0f} s)"
    )

    started, sampled = time.perf_counter(), 0
    for record in get_openemr_client().iter_patients():  # the old loop: every patient read, one upsert each
        patient_upsert_from_emr(record)
        sampled += 1
        if sampled >= args.baseline_sample:
            break
    old_s = time.perf_counter() - started
    per_patient = old_s / sampled
    extrapolated = per_patient * args.patients
    print(
        f"baseline (old full re-read, one upsert per patient): {sampled} patients in {old_s:.1f} s ="
        f" {per_patient * 1000:.2f} ms each; EXTRAPOLATED to {args.patients}: {extrapolated:.0f} s,"
        f" and the old design re-read all of them on every 15-minute run"
    )
    print(
        f"ratios: old re-read / incremental = {extrapolated / incremental_s:.0f}x;"
        f" old re-read / new full pass = {extrapolated / initial_s:.1f}x"
    )


def write_token(emr) -> str:
    return requests.post(
        f"{emr.origin}/oauth2/default/token",
        data={
            "grant_type": "password", "user_role": "users", "username": EMR_USER[0], "password": EMR_USER[1],
            "client_id": EMR_CLIENT[0], "client_secret": EMR_CLIENT[1],
            "scope": "openid api:oemr user/patient.read user/patient.write",
        },
        timeout=10,
    ).json()["access_token"]  # fmt: skip


if __name__ == "__main__":
    main()
