"""Requests per second of audited read endpoints with and without their audit write, same run.

    cd backend && .venv/bin/python benchmarks/audit_overhead.py [--requests 600] [--rounds 12] [--clients 1 8]
                                                                [--via client http]

Two endpoints, each measured alone:
- "audit list": GET /api/audit/events as an ADMIN, filtered to match nothing, so its own work does not
  grow as audit rows accumulate: the cheapest audited read there is, so the write weighs most;
- "patient record": GET /api/patients/{uuid} as a DOCTOR, the patient cached from the EMR (no EMR call).
The only difference between the two variants is AuditClient.log_event (its event committed before the
answer). Each round runs both variants back to back (which goes first alternates) and gives one ratio; the
figure is the median of the rounds' ratios, with their quartiles: on a shared machine the load drifts
within seconds, and a pair measured together sees the same load. N concurrent clients are N forked
processes; throughput is all their requests over the round's wall time.

Two ways in, each reported:
- "client": each client process calls the Django application itself (DRF's test client, its own database
  connection): no HTTP, no server, so the audit write weighs the most it can;
- "http": the clients send HTTP to gunicorn started as the API pool runs (scripts/process.sh: sync workers,
  APP_WORKERS of them, default 3), one server per variant (the unaudited one loads
  benchmarks/wsgi_unaudited.py), both on the benchmark's database: what a hospital's browsers meet.
"""

import argparse
import contextlib
import http.client
import itertools
import multiprocessing
import os
import socket
import statistics
import subprocess
import time
from pathlib import Path
from unittest import mock
from urllib.parse import quote

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


def _http_loop(args: tuple[int, str, str, int]) -> None:
    port, url, token, n = args
    for _ in range(n):
        # gunicorn's sync workers close every connection after one answer, as behind nginx
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", url, headers={"Authorization": f"Token {token}", "Host": "localhost"})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 200, response.status


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _servers() -> "dict[bool, int]":
    """{audited: port}: gunicorn with and without the audit write, on the benchmark's database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    login = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'], safe='')}"
    url = f"mysql://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdss.settings.test", "DATABASE_OWNER_URL": url}
    env["EMR_PATIENT_CACHE_TTL_SECONDS"] = str(24 * 3600)
    ports = {True: _free_port(), False: _free_port()}
    modules = {True: "cdss.wsgi:application", False: "benchmarks.wsgi_unaudited:application"}
    workers = os.environ.get("APP_WORKERS", "3")
    backend = Path(__file__).resolve().parents[1]
    servers = [
        subprocess.Popen(  # noqa: S603  (a fixed command line)
            [
                str(backend / ".venv/bin/gunicorn"),
                modules[audited],
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                workers,
                "--log-level",
                "warning",
            ],
            cwd=backend,
            env=env,
        )
        for audited, port in ports.items()
    ]
    try:
        for port in ports.values():
            _wait_until_listening(port)
        yield ports
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)


def _wait_until_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on port {port} within {timeout:.0f} s")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per variant in total")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--via", nargs="+", choices=("client", "http"), default=["client", "http"])
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
        connections.close_all()  # each forked client opens its own; none may inherit the parent's
        with _servers() if "http" in args.via else contextlib.nullcontext() as ports:
            for via, (name, (url, token)), clients in itertools.product(args.via, endpoints.items(), args.clients):
                with multiprocessing.get_context("fork").Pool(clients) as pool:

                    def run(n: int, audited: bool, via=via, url=url, token=token, clients=clients) -> float:
                        if via == "http":
                            loop, work = _http_loop, (ports[audited], url, token, n)
                        else:
                            loop, work = _request_loop, (url, token, n, audited)
                        started = time.perf_counter()
                        pool.map(loop, [work] * clients)
                        return n * clients / (time.perf_counter() - started)

                    run(20, True)  # warm-up: connections, caches, imports
                    run(20, False)
                    before = AuditEvent.objects.count()
                    with_audit, without_audit = [], []
                    for round_ in range(args.rounds):
                        for audited in (True, False) if round_ % 2 == 0 else (False, True):
                            (with_audit if audited else without_audit).append(run(per_round, audited))
                    written = AuditEvent.objects.count() - before
                    connections.close_all()
                a, b = statistics.median(with_audit), statistics.median(without_audit)
                ratios = sorted(w / o for w, o in zip(with_audit, without_audit, strict=True))
                quartiles = statistics.quantiles(ratios, n=4)
                requests = per_round * args.rounds
                print(
                    f"--- {name} via {via}, {clients} concurrent client(s): {requests} requests per client and variant"
                )
                print(f"audit events written by the audited variant: {written}")
                print(f"with audit    : {a:8.1f} req/s (median of rounds)")
                print(f"without audit : {b:8.1f} req/s (median of rounds)")
                ratio = statistics.median(ratios)
                print(
                    f"ratio with/without: {ratio:.3f}  (median of the rounds' ratios; quartiles {quartiles[0]:.3f}"
                    f"-{quartiles[2]:.3f}; audit write overhead {100 * (1 - ratio):.1f}%)"
                )


if __name__ == "__main__":
    main()
