"""Requests per second of audited read endpoints with and without their audit write, same run.

    cd backend && .venv/bin/python benchmarks/audit_overhead.py [--requests 600] [--rounds 6] [--clients 1 8]

Two endpoints, each measured alone:
- "audit list": GET /api/audit/events as an ADMIN, filtered to match nothing, so its own work does not
  grow as audit rows accumulate: the cheapest audited read there is, so the write weighs most;
- "patient record": GET /api/patients/{uuid} as a DOCTOR, the patient cached from the EMR (no EMR call).
The only difference between the two variants is AuditClient.log_event (its event committed before the
answer). Rounds alternate the variants so drift on the machine hits both alike. N concurrent clients are
N forked processes (own connections, no shared GIL); throughput is all their requests over the round's
wall time.
"""

import argparse
import itertools
import multiprocessing
import statistics
import time
from unittest import mock

from _django import bench_database

_client = None


def _request_loop(args: tuple[str, str, int, bool]) -> None:
    global _client
    from rest_framework.test import APIClient

    from audit.client import AuditClient

    url, token, n, audited = args
    if _client is None:
        _client = APIClient()
        _client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with mock.patch.object(AuditClient, "log_event", return_value=None) if not audited else _nothing():
        for _ in range(n):
            assert _client.get(url).status_code == 200


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per variant in total")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()

    with bench_database():
        from django.conf import settings
        from django.db import connections
        from django.utils import timezone

        from acct.models import User
        from acct.services import token_issue, user_set_roles
        from audit.models import AuditEvent
        from emr.models import Patient

        def token_of(role: str) -> str:
            user = User.objects.create_user(f"bench-{role.lower()}", password="bench-password-123")
            user_set_roles(actor=None, user=user, roles={role})
            return token_issue(actor=user, user=user)[1]

        settings.EMR_PATIENT_CACHE_TTL_SECONDS = 24 * 3600  # the cached patient stays fresh: no EMR call
        patient = Patient.objects.create(
            emr_uuid="bench-patient", mrn="B-1", family_name="Bench", given_name="Patient", fetched_at=timezone.now()
        )
        endpoints = {
            "audit list": ("/api/audit/events?resource_type=nothing-matches&page_size=1", token_of("ADMIN")),
            "patient record": (f"/api/patients/{patient.emr_uuid}", token_of("DOCTOR")),
        }
        per_round = args.requests // args.rounds

        for (name, (url, token)), clients in itertools.product(endpoints.items(), args.clients):
            connections.close_all()  # each forked client opens its own; none may inherit the parent's
            with multiprocessing.get_context("fork").Pool(clients) as pool:

                def run(n: int, audited: bool, clients: int = clients, url: str = url, token: str = token) -> float:
                    started = time.perf_counter()
                    pool.map(_request_loop, [(url, token, n, audited)] * clients)
                    return n * clients / (time.perf_counter() - started)

                run(20, True)  # warm-up: connections, caches, imports
                before = AuditEvent.objects.count()
                with_audit, without_audit = [], []
                for _ in range(args.rounds):
                    with_audit.append(run(per_round, True))
                    without_audit.append(run(per_round, False))
                written = AuditEvent.objects.count() - before
            a, b = statistics.median(with_audit), statistics.median(without_audit)
            requests = per_round * args.rounds
            print(f"--- {name}, {clients} concurrent client(s): {requests} requests per client and variant")
            print(f"audit events written by the audited variant: {written}")
            print(f"with audit    : {a:8.1f} req/s (median of rounds)")
            print(f"without audit : {b:8.1f} req/s (median of rounds)")
            print(f"ratio with/without: {a / b:.3f}  (audit write overhead {100 * (1 - a / b):.1f}%)")


if __name__ == "__main__":
    main()
