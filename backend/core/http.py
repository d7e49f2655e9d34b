"""The one HTTP layer every client of a hospital system uses (Orthanc, HAPI FHIR, OpenEMR, ...).

What it guarantees, so the clients do not each re-invent it:
- connect and read timeouts on every request; a pooled connection per system;
- retries with exponential backoff only for idempotent methods, and only on connection errors,
  502/503/504 and 429 (honouring Retry-After, capped); a read timeout is not retried, so a slow
  system answers within the configured timeout;
- the caller's X-Request-ID on every request; redirects followed only to the same origin;
- a circuit breaker per system: after repeated failures calls fail fast until a probe succeeds;
- exactly one `external_call` signal per logical call (whatever the retries), which the audit app
  records as one EXTERNAL_CALL event;
- failures raised as ExternalSystemError subclasses that the API turns into 502/503/504 problems.
"""

import email.utils
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter

from core import context
from core.errors import DomainError

logger = logging.getLogger(__name__)

# Sent once per logical call: system, method, url, status_code, outcome ("success"/"failure"),
# elapsed_ms, error, and the resource_type/resource_id/patient_id the caller named.
external_call = Signal()

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 10.0
SEND_BLOCK_BYTES = 1024 * 1024


class ExternalSystemError(DomainError):
    """A hospital system failed us. `api_status` is what our API answers (never a 500)."""

    code = "external_system"
    api_status = 502
    title = _("The external system returned an invalid answer")

    def __init__(self, system: str, detail: str, *, status_code: int | None = None):
        super().__init__(f"{system}: {detail}")
        self.system, self.detail, self.status_code = system, detail, status_code


class SystemUnavailable(ExternalSystemError):
    api_status = 503
    title = _("The external system is unavailable")


class SystemTimeout(ExternalSystemError):
    api_status = 504
    title = _("The external system did not answer in time")


class CircuitOpen(SystemUnavailable):
    title = _("The external system is unavailable (circuit open after repeated failures)")


class ExternalNotFound(ExternalSystemError):
    api_status = 404
    title = _("Not found in the external system")


class ExternalRejected(ExternalSystemError):
    """The system refused what we sent as invalid (400/422): the caller's input, not an outage."""

    api_status = 422
    title = _("The external system rejected the request")


class ExternalAuthRefused(ExternalSystemError):
    """The system refused the CDSS's own credentials: a configuration problem for the operators."""

    api_status = 502
    title = _("The external system refused the CDSS's credentials")


def raise_for_status(system: str, response: requests.Response, detail: str = "") -> requests.Response:
    """Turn an error answer into the matching ExternalSystemError; return the response otherwise."""
    status = response.status_code
    if status < 400:
        return response
    detail = detail or f"HTTP {status}: {response.text[:300]}"
    if status == 404 or status == 410:
        raise ExternalNotFound(system, detail, status_code=status)
    if status in (400, 409, 412, 422):
        raise ExternalRejected(system, detail, status_code=status)
    if status in (401, 403):
        raise ExternalAuthRefused(system, detail, status_code=status)
    if status in (503, 429):
        raise SystemUnavailable(system, detail, status_code=status)
    if status == 504:
        raise SystemTimeout(system, detail, status_code=status)
    raise ExternalSystemError(system, detail, status_code=status)


class CircuitBreaker:
    """closed -> (failure_threshold consecutive failures) -> open -> (reset_timeout) -> half-open:
    one probe call goes through; success closes the circuit, failure opens it again."""

    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0):
        self.failure_threshold, self.reset_timeout = failure_threshold, reset_timeout
        self._failures, self._opened_at, self._probing = 0, None, False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self._opened_at >= self.reset_timeout else "open"

    def allow(self) -> bool:
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._probing = 0, None, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.failure_threshold:
                self._opened_at, self._probing = time.monotonic(), False


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


_shared_clients: dict[tuple, Any] = {}
_shared_clients_lock = threading.Lock()


def shared_client(factory: Any, *configuration: Any) -> Any:
    """One client per configuration per process (`factory()` builds it), so its pooled connections and
    any token outlive the request instead of being opened again for each one."""
    key = (factory, *configuration)
    with _shared_clients_lock:
        if key not in _shared_clients:
            _shared_clients[key] = factory()
        return _shared_clients[key]


def forget_shared_clients() -> None:
    """Drop every shared client (tests, after pointing a system at another server or resetting it)."""
    with _shared_clients_lock:
        _shared_clients.clear()


def breaker_for(system: str) -> CircuitBreaker:
    """One breaker per system per process, shared by every client of that system."""
    with _breakers_lock:
        if system not in _breakers:
            _breakers[system] = CircuitBreaker(
                failure_threshold=settings.CIRCUIT_BREAKER_FAILURES,
                reset_timeout=settings.CIRCUIT_BREAKER_RESET_SECONDS,
            )
        return _breakers[system]


@dataclass
class Timeouts:
    connect: float = 3.0
    read: float = 10.0


class ExternalSession:
    """An HTTP session bound to one external system and its base URL."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: Any = None,
        timeouts: Timeouts | None = None,
        retries: int = 2,
        backoff: float = 0.3,
        breaker: CircuitBreaker | None = None,
        pool_size: int = 10,
    ):
        self.system = system
        self.base_url = base_url.rstrip("/") + "/"
        self.timeouts = timeouts or Timeouts()
        self.retries, self.backoff = retries, backoff
        self._breaker = breaker
        self.session = requests.Session()
        self.session.auth = auth
        # Proxy and CA-bundle settings come from the environment as usual, but are read once here:
        # requests would otherwise walk os.environ on every call (hundreds per upload).
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        adapter = LargeBlockAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @property
    def breaker(self) -> CircuitBreaker:
        """The breaker given at construction, else the system's shared one (looked up each time, so
        every client of a system sees the same state)."""
        return self._breaker or breaker_for(self.system)

    def as_requests_session(self) -> requests.Session:
        """A requests.Session whose every call goes through this layer, for libraries that take one
        (dicomweb-client)."""
        return _RoutedSession(self)

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/")) if not path.startswith(("http://", "https://")) else path

    def request(
        self,
        method: str,
        path: str,
        *,
        resource_type: str = "",
        resource_id: str = "",
        patient_id: str = "",
        **kwargs: Any,
    ) -> requests.Response:
        """One logical call: retried where safe, guarded by the breaker, signalled once."""
        method = method.upper()
        url = self.url(path)
        for owned in ("timeout", "allow_redirects"):  # this layer decides both
            kwargs.pop(owned, None)
        started = time.perf_counter()
        status_code, error = None, ""
        try:
            response = self._send_with_retries(method, url, **kwargs)
            status_code = response.status_code
            return response
        except ExternalSystemError as exc:
            status_code, error = exc.status_code, exc.detail
            raise
        finally:
            external_call.send(
                sender=self.system,
                system=self.system,
                method=method,
                url=urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else ""),
                status_code=status_code,
                outcome="success" if not error and status_code is not None and status_code < 500 else "failure",
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
                error=error,
                resource_type=resource_type,
                resource_id=resource_id,
                patient_id=patient_id,
            )

    def _send_with_retries(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not self.breaker.allow():
            raise CircuitOpen(self.system, "calls are suspended after repeated failures; retrying shortly")
        attempts = 1 + (self.retries if method in IDEMPOTENT_METHODS else 0)
        headers = {**kwargs.pop("headers", {})}
        if request_id := context.current().request_id:
            headers.setdefault(context.REQUEST_ID_HEADER, request_id)
        for attempt in range(1, attempts + 1):
            try:
                response = self._send_following_same_origin(method, url, headers=headers, **kwargs)
            except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached the system
                if attempt < attempts:
                    self._sleep(attempt, None)
                    continue
                self.breaker.record_failure()
                raise SystemUnavailable(self.system, "connection failed") from exc
            except requests.Timeout as exc:  # the system got the request and is slow: waiting again won't help
                self.breaker.record_failure()
                raise SystemTimeout(self.system, f"no answer within {self._timeout_text()}") from exc
            if response.status_code in RETRYABLE_STATUS and attempt < attempts:
                self._sleep(attempt, response)
                continue
            self._record(response.status_code)
            return response
        raise AssertionError("unreachable")

    def _send_following_same_origin(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        origin = urlsplit(url)[:2]
        for _hop in range(4):
            response = self.session.request(
                method, url, timeout=(self.timeouts.connect, self.timeouts.read), allow_redirects=False, **kwargs
            )
            if not response.is_redirect:
                return response
            target = urljoin(url, response.headers["Location"])
            if urlsplit(target)[:2] != origin:
                raise ExternalSystemError(
                    self.system, "redirected to another host; not followed", status_code=response.status_code
                )
            url = target
        raise ExternalSystemError(self.system, "too many redirects")

    def _record(self, status_code: int) -> None:
        if status_code >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()

    def _sleep(self, attempt: int, response: requests.Response | None) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        if response is not None and (retry_after := retry_after_seconds(response)) is not None:
            delay = retry_after
        time.sleep(min(delay, MAX_RETRY_AFTER_SECONDS))

    def _timeout_text(self) -> str:
        return f"{self.timeouts.connect:g} s to connect / {self.timeouts.read:g} s to read"


class LargeBlockAdapter(HTTPAdapter):
    """Sends file bodies 1 MiB at a time: urllib3's 16 KiB default turns one DICOM instance into dozens
    of Python-level send calls, each contending for the GIL with the threads of a parallel upload."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=SEND_BLOCK_BYTES, **kwargs)


class _RoutedSession(requests.Session):
    def __init__(self, external: ExternalSession):
        super().__init__()
        self._external = external

    def request(self, method, url, **kwargs):  # type: ignore[override]
        return self._external.request(method, url, **kwargs)


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_to_datetime(value)
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None
