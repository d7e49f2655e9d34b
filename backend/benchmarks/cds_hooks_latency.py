"""CDS Hooks answer time through nginx, on the stack `make run` started.

    make run && cd backend && .venv/bin/python benchmarks/cds_hooks_latency.py [--calls 300] [--warmup 20]

Signed calls as the local stand-in EHR (scripts/run.sh trusts its key when .env names no issuer), one
after another over one keep-alive HTTPS connection: patient-view for a demo patient with AI results and
order-sign with a brain MR draft and a recent MR prefetched. Each call carries a fresh JWT (signed before
the clock starts; the service verifies its ES384 signature and records its jti in Redis) and is audited.
Prints p50, p95, p99 and the maximum in ms per hook. Goal (issue #18): p95 under 200 ms.
"""

import argparse
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "e2e"))  # the stack's settings and the stand-in EHR, shared with the e2e suite
from cds_ehr import ORDER_SIGN, PATIENT_VIEW, measure, order_sign, patient_view  # noqa: E402
from second_factor import api_token  # noqa: E402
from stack_env import stack_env  # noqa: E402

GOAL_MS = 200


def demo_patient(http: requests.Session, base: str, env: dict) -> str:
    """The EMR uuid of a demo patient with AI results (the demo imaging's analyses)."""
    headers = api_token(http, base, env, "doctor")
    jobs = http.get(f"{base}/api/ai/jobs", headers=headers, timeout=10)
    jobs.raise_for_status()
    patients = [job["patient"] for job in jobs.json()["results"] if job.get("patient")]
    if not patients:
        raise SystemExit("no demo patient with AI results: run make run first")
    return patients[0]


def run(base: str, env: dict, calls: int, warmup: int) -> dict[str, dict]:
    with requests.Session() as http:
        http.verify, http.trust_env = False, False
        patient = demo_patient(http, base, env)
        results = {}
        for name, path, make in (("patient-view", PATIENT_VIEW, patient_view), ("order-sign", ORDER_SIGN, order_sign)):
            measure(http, base, path, make, patient, warmup)
            results[name] = measure(http, base, path, make, patient, calls)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    env = stack_env()
    results = run(f"https://127.0.0.1:{env['HTTPS_PORT']}", env, args.calls, args.warmup)
    for name, row in results.items():
        print(
            f"cds hooks {name}: p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms, p99 {row['p99']:.1f} ms, "
            f"max {row['max']:.1f} ms (n={row['n']}, {row['cards']} cards)"
        )
    print(f"goal: p95 under {GOAL_MS} ms through nginx (issue #18)")


if __name__ == "__main__":
    main()
