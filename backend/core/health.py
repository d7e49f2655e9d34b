"""Readiness checks: one function per dependency, each returning within the configured timeout.

A check raises on failure; `run_checks` times it and turns the outcome into a CheckResult. Systems
the deployment has not configured (FHIR server, EMR) report "not_configured" and do not fail readiness.
`cached_checks` is what /ready serves: at most one run per READINESS_CACHE_SECONDS in each process, so
probes, however many, cannot hammer the dependencies (nginx also rate-limits /ready).
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

import pika
import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from core.messaging.topology import EXCHANGE, connection_parameters
from core.storage import APPLICATION_BUCKETS, storage_client

UP, DOWN, NOT_CONFIGURED = "up", "down", "not_configured"


class NotConfigured(Exception):
    pass


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    latency_ms: float | None
    detail: str = ""

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "name" and value != ""}


def check_database(timeout: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis(timeout: float) -> None:
    cache.set("ready-probe", "1", timeout=10)
    if cache.get("ready-probe") != "1":
        raise RuntimeError("value written to the cache did not read back")


def check_rabbitmq(timeout: float) -> None:
    conn = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL, timeout=timeout))
    try:
        conn.channel().exchange_declare(EXCHANGE, passive=True)  # the topology is in place, not just the port
    finally:
        if conn.is_open:
            conn.close()


def check_orthanc(timeout: float) -> None:
    response = requests.get(
        f"{settings.ORTHANC_URL}/system",
        auth=(settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD),
        timeout=timeout,
        allow_redirects=False,
    )
    response.raise_for_status()


def check_object_storage(timeout: float) -> None:
    client = storage_client(timeout=timeout, retries=0)
    # the application's own buckets: its account may not even look at the others (backups, models)
    buckets = [settings.S3_BUCKETS[purpose] for purpose in APPLICATION_BUCKETS]
    missing = [name for name in buckets if not client.bucket_exists(name)]
    if missing:
        raise RuntimeError(f"missing buckets: {', '.join(missing)}")


def check_fhir(timeout: float) -> None:
    if not settings.FHIR_BASE_URL:
        raise NotConfigured
    requests.get(f"{settings.FHIR_BASE_URL}/metadata", timeout=timeout, allow_redirects=False).raise_for_status()


def check_emr(timeout: float) -> None:
    if not settings.EMR_BASE_URL:
        raise NotConfigured
    response = requests.get(settings.EMR_BASE_URL, timeout=timeout, allow_redirects=False)
    if response.status_code >= 500:
        raise RuntimeError(f"HTTP {response.status_code}")


def check_ai_server(timeout: float) -> None:
    if not settings.AI_SERVER_URL:
        raise NotConfigured
    response = requests.get(f"{settings.AI_SERVER_URL}/health", timeout=timeout, allow_redirects=False)
    if response.status_code >= 500:
        raise RuntimeError(f"HTTP {response.status_code}")


CHECKS: dict[str, Callable[[float], None]] = {
    "database": check_database,
    "redis": check_redis,
    "rabbitmq": check_rabbitmq,
    "orthanc": check_orthanc,
    "object_storage": check_object_storage,
    "fhir": check_fhir,
    "emr": check_emr,
    "ai_server": check_ai_server,
}


def _timed(name: str, check: Callable[[float], None], timeout: float) -> CheckResult:
    started = time.perf_counter()
    try:
        check(timeout)
    except NotConfigured:
        return CheckResult(name, NOT_CONFIGURED, None)
    except Exception as exc:  # any failure of a dependency is reported, never raised
        detail = f"{exc.__class__.__name__}: {exc}"[:300]
        return CheckResult(name, DOWN, round((time.perf_counter() - started) * 1000, 1), detail)
    return CheckResult(name, UP, round((time.perf_counter() - started) * 1000, 1))


def run_checks(timeout: float | None = None) -> list[CheckResult]:
    """Run every check concurrently; a check that overruns its timeout is reported down."""
    timeout = timeout or settings.READINESS_TIMEOUT_SECONDS
    # The database check stays on this thread: Django connections belong to the thread that opened them.
    threaded = {name: check for name, check in CHECKS.items() if name != "database"}
    pool = ThreadPoolExecutor(max_workers=len(threaded), thread_name_prefix="ready")
    try:
        futures = {name: pool.submit(_timed, name, check, timeout) for name, check in threaded.items()}
        results = [_timed("database", check_database, timeout)]
        deadline = time.monotonic() + timeout + 1.0
        for name, future in futures.items():
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                results.append(CheckResult(name, DOWN, timeout * 1000, "timed out"))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # never let a hung dependency hold the probe
    return results


_cache_lock = threading.Lock()
_cached: tuple[float, list[CheckResult]] | None = None  # (monotonic time of the run, its results)


def cached_checks() -> tuple[list[CheckResult], float]:
    """(results, their age in seconds): a run younger than READINESS_CACHE_SECONDS is served again, down
    or up alike. Concurrent callers (the upload pool's threads) wait for one run rather than start theirs."""
    global _cached
    ttl = settings.READINESS_CACHE_SECONDS
    with _cache_lock:
        if _cached is None or time.monotonic() - _cached[0] >= ttl:
            _cached = (time.monotonic(), run_checks())
        checked_at, results = _cached
    return results, time.monotonic() - checked_at


def forget_cached_checks() -> None:
    """The next /ready runs the checks (tests)."""
    global _cached
    with _cache_lock:
        _cached = None
