"""Rule trigger latency, on the stack `make run` started.

    make run && cd backend && .venv/bin/python benchmarks/rule_trigger_latency.py [--studies 6] [--spacing 4]

An enabled routing rule (matching only this run's series description) and `--studies` studies sent by
C-STORE as the test modality, one every `--spacing` seconds (so they meet the change-feed beat at different
phases). For each: the time from Orthanc declaring the study stable (its change feed's StableStudy date, to
the second) to the rule-started AI job being QUEUED (the job's created_at), and from the last C-STORE to
QUEUED. Both clocks are this machine's. Prints each study, the median and the maximum.

Goal (issue #17): under 20 s from stable to QUEUED with the default change-feed interval. The floor is
the beat: Django sees a stable study only when the change-feed task next runs (every 15 s), so stable ->
QUEUED is up to ~15 s plus the import, the outbox and the worker; C-STORE -> QUEUED adds Orthanc's
StableAge (10 s). docs/routing.md, "Latency".
"""

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "e2e"))  # the stack's settings and the C-STORE flow, shared with the e2e suite
from rule_flow import MODALITY_AE, Stack, c_store, series, stable_at  # noqa: E402
from second_factor import api_token  # noqa: E402
from stack_env import stack_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--spacing", type=float, default=4.0, help="seconds between two studies' C-STORE")
    args = parser.parse_args()
    env = stack_env()
    base = f"https://127.0.0.1:{env['HTTPS_PORT']}"
    with requests.Session() as http:
        http.verify, http.trust_env = False, False
        stack = Stack(http, base, api_token(http, base, env, "admin"), api_token(http, base, env, "radiologist"))
        run = uuid.uuid4().hex[:10]
        rule = stack.rule_create(name=f"bench-{run}", series_description=f"bench-{run}$", sending_ae=MODALITY_AE)
        try:
            patient = stack.patient()
            sent = []
            for _ in range(args.studies):
                datasets = series(patient["mrn"], f"AX FLAIR BENCH-{run}", 3)
                sent.append((datasets[0].StudyInstanceUID, c_store(env, datasets)))
                time.sleep(args.spacing)
            rows = []
            for uid, stored in sent:
                study = stack.study(patient["emr_uuid"], uid, timeout=120)
                job = stack.first_job(study["id"], timeout=120)
                queued = datetime.fromisoformat(job["created_at"]).timestamp()
                stable = stable_at(env, study["orthanc_id"])
                rows.append((uid, None if stable is None else queued - stable, queued - stored))
        finally:
            stack.rule_delete(rule["id"])
    print(f"{'study':<64} {'stable->QUEUED s':>17} {'C-STORE->QUEUED s':>18}")
    for uid, from_stable, from_store in rows:
        print(f"{uid:<64} {'-' if from_stable is None else f'{from_stable:.1f}':>17} {from_store:>18.1f}")
    for label, values in (
        ("stable -> QUEUED", [r[1] for r in rows if r[1] is not None]),
        ("C-STORE -> QUEUED", [r[2] for r in rows]),
    ):
        if values:
            print(f"{label}: median {statistics.median(values):.1f} s, max {max(values):.1f} s (n={len(values)})")
    print("goal: stable -> QUEUED under 20 s (issue #17)")


if __name__ == "__main__":
    main()
