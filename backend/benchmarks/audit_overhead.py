"""Requests per second of one audited read endpoint with and without its audit write, same run.

    cd backend && .venv/bin/python benchmarks/audit_overhead.py [--requests 600] [--rounds 6]

The endpoint is GET /api/audit/events filtered to match nothing, so its own work does not grow as
audit rows accumulate; the only difference between the two variants is AuditClient.log_event (a
chained, row-locked insert). Rounds alternate the variants so drift on the machine hits both alike.
"""

import argparse
import statistics
import time
from unittest import mock

from _django import bench_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per variant in total")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    with bench_database():
        from rest_framework.test import APIClient

        from acct.models import User
        from acct.services import token_issue, user_set_roles
        from audit.client import AuditClient
        from audit.models import AuditEvent

        admin = User.objects.create_user("bench-admin", password="bench-password-123")
        user_set_roles(actor=None, user=admin, roles={"ADMIN"})
        _, token = token_issue(actor=admin, user=admin)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        url = "/api/audit/events?resource_type=nothing-matches&page_size=1"
        per_round = args.requests // args.rounds

        def run(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                assert client.get(url).status_code == 200
            return n / (time.perf_counter() - started)

        run(50)  # warm-up: connections, caches, imports
        with_audit, without_audit = [], []
        for _ in range(args.rounds):
            with_audit.append(run(per_round))
            with mock.patch.object(AuditClient, "log_event", return_value=None):
                without_audit.append(run(per_round))

        written = AuditEvent.objects.filter(resource_type="audit_event").count()
        a, b = statistics.median(with_audit), statistics.median(without_audit)
        print(f"requests per variant: {per_round * args.rounds} in {args.rounds} alternating rounds")
        print(f"audit events written by the audited variant: {written}")
        print(f"with audit    : {a:8.1f} req/s (median of rounds)")
        print(f"without audit : {b:8.1f} req/s (median of rounds)")
        print(f"ratio with/without: {a / b:.3f}  (audit write overhead {100 * (1 - a / b):.1f}%)")


if __name__ == "__main__":
    main()
