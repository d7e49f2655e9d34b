"""Plumbing shared by the HAPI FHIR and OpenEMR stand-ins.

An emulator is an `Emulator` subclass: a route table, a SQLite schema, a seed and an error shape. This
module serves it over HTTP (a thread per connection), runs each request inside one SQLite transaction
(a request that fails leaves nothing behind, which is also how a FHIR transaction gets its
all-or-nothing rule), and answers the test-only endpoints under /__control__/ that no real server has:
faults, settings, clock and reset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/__control__/"
GARBAGE_BODY = b"<html><body><h1>Service temporarily in maintenance</h1></body></html>"


def words(text: str) -> list[str]:
    """The whitespace-separated words of `text`; keeps long constant lists readable."""
    return text.split()


# --- requests and responses ------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: Message
    body: bytes
    origin: str  # scheme://host[:port] as the client addressed us; absolute URLs in answers start with it
    started: float = field(default_factory=time.monotonic)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    @property
    def url(self) -> str:
        return self.origin + self.path + (f"?{self.raw_query}" if self.raw_query else "")

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def json(self) -> Any:
        """The body as JSON; raises ValueError, which each emulator turns into its own error shape."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def took_ms(self) -> int:
        return max(1, round((time.monotonic() - self.started) * 1000))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int, payload: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": content_type, **(headers or {})})


class HttpError(Exception):
    """Raised anywhere below a handler: the request answers `response` and its writes are rolled back."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


# --- routing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Response]
    meta: dict[str, Any]


class NoRoute(Exception):
    def __init__(self, path_exists: bool):
        super().__init__(path_exists)
        self.path_exists = path_exists  # True: another method is routed there (405), False: 404


class Router:
    """Regex routes tried in order; named groups become keyword arguments of the handler."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Callable[..., Response], **meta: Any) -> None:
        self.routes.append(Route(method, re.compile(pattern), handler, meta))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        path_exists = False
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match:
                if route.method == method:
                    return route, match.groupdict()
                path_exists = True
        raise NoRoute(path_exists)


# --- run-time state that tests steer ---------------------------------------------------------------


class Settings:
    """Named options whose defaults come from the command line; tests change them at run time through
    /__control__/ and DELETE puts the defaults back. A value must keep its default's type."""

    def __init__(self, defaults: dict[str, Any], checks: dict[str, Callable[[Any], bool]] | None = None):
        self._defaults = dict(defaults)
        self._checks = checks or {}
        self._values = dict(defaults)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def reset(self) -> None:
        self._values = dict(self._defaults)

    def update(self, patch: Any) -> None:
        """Apply every key of `patch` or none of them; ValueError names the first bad key."""
        if not isinstance(patch, dict):
            raise ValueError("expected a JSON object")
        merged = dict(self._values)
        for name, value in patch.items():
            if name not in self._defaults:
                raise ValueError(f"unknown key {name!r}; known: {sorted(self._defaults)}")
            merged[name] = self._coerce(name, value)
        self._values = merged

    def _coerce(self, name: str, value: Any) -> Any:
        expected = type(self._defaults[name])
        if expected is float and type(value) is int:
            value = float(value)
        if type(value) is not expected:
            raise ValueError(f"{name} must be of type {expected.__name__}")
        if name in self._checks and not self._checks[name](value):
            raise ValueError(f"{name}={value!r} is out of range")
        return value


FAULT_DEFAULTS = {"latency_ms": 0, "error_rate": 0.0, "error_status": 503, "outage": False, "garbage": False}
FAULT_CHECKS = {
    "latency_ms": lambda v: 0 <= v <= 600_000,
    "error_rate": lambda v: 0.0 <= v <= 1.0,
    "error_status": lambda v: 100 <= v <= 599,
}


class Clock:
    """The time the emulator believes it is. Tests move it forward to expire tokens and searches
    without sleeping; DELETE /__control__/clock brings it back."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s


# --- SMART on FHIR scopes (both servers check them) --------------------------------------------------

SMART_SCOPE = re.compile(
    r"(?P<context>system|user|patient)/(?P<type>\*|[A-Za-z_]+)\.(?P<perm>\*|read|write|(?=[cruds])c?r?u?d?s?)"
)
_PERMISSION_LETTERS = {"*": "cruds", "read": "rs", "write": "cud"}  # SMART v1 names as v2 letters


def smart_scope_allows(
    scopes: list[str], resource: str, permission: str, contexts: tuple[str, ...] = ("system", "user", "patient")
) -> bool:
    """Does any of `scopes` (v1 `.read`/`.write`/`.*` or v2 `.cruds`) grant `permission`, one of the letters
    c r u d s, on `resource` in one of `contexts`?"""
    for scope in scopes:
        match = SMART_SCOPE.fullmatch(scope)
        if not match or match["context"] not in contexts or match["type"] not in {"*", resource}:
            continue
        if permission in _PERMISSION_LETTERS.get(match["perm"], match["perm"]):
            return True
    return False


def smart_security(oauth_uris: dict[str, str]) -> dict:
    """CapabilityStatement.rest.security announcing SMART on FHIR and its OAuth2 endpoints."""
    service = {"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}
    uris = [{"url": name, "valueUri": uri} for name, uri in oauth_uris.items()]
    return {
        "service": [{"coding": [service]}],
        "extension": [
            {"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": uris}
        ],
    }


def oauth_error(status: int, error: str, description: str, **extra: str) -> Response:
    """A token endpoint error (RFC 6749 section 5.2); failed client authentication is a 401 with a challenge."""
    headers = {"WWW-Authenticate": 'Basic realm="OAuth"'} if status == 401 else {}
    return json_response(status, {"error": error, "error_description": description, **extra}, headers=headers)


# --- storage ----------------------------------------------------------------------------------------

_META_SCHEMA = "CREATE TABLE IF NOT EXISTS emulator_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class Store:
    """One SQLite connection shared by every request thread. A lock serialises requests, so each one
    sees and leaves a consistent database; the stand-ins need correctness and races that resolve
    cleanly (one writer wins), not throughput."""

    def __init__(self, path: str, schema: str):
        self._lock = threading.RLock()
        self._schema = schema + _META_SCHEMA
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(self._schema)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: what happens inside is undone if it raises (FHIR batch entries)."""
        self._conn.execute("SAVEPOINT entry")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO entry")
            self._conn.execute("RELEASE entry")
            raise
        self._conn.execute("RELEASE entry")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def rows(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def row(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self._conn.execute(sql, params).fetchone()

    def get_meta(self, key: str) -> str | None:
        found = self.row("SELECT value FROM emulator_meta WHERE key = ?", (key,))
        return found["value"] if found else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO emulator_meta (key, value) VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        with self._lock:
            tables = [r["name"] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in tables:
                if not name.startswith("sqlite_"):
                    self._conn.execute(f'DROP TABLE "{name}"')
            if "sqlite_sequence" in tables:
                self._conn.execute("DELETE FROM sqlite_sequence")
            self._conn.executescript(self._schema)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# --- the emulator base -----------------------------------------------------------------------------


class Emulator:
    """Base of both stand-ins. Subclasses fill `self.router`, may add to `self.control`, and override
    the hooks `seed`, `error` and `authorize`."""

    name = "emulator"

    def __init__(
        self, store: Store, settings: dict[str, Any], setting_checks: dict[str, Callable[[Any], bool]] | None = None
    ):
        self.store = store
        self.clock = Clock()
        self.faults = Settings(FAULT_DEFAULTS, FAULT_CHECKS)
        self.settings = Settings(settings, setting_checks)
        self.router = Router()
        self.control = Router()
        self._fault_dice = random.Random()  # noqa: S311 - deciding which request fails needs no secrecy
        for path, target in ((f"{CONTROL_PREFIX}faults", self.faults), (f"{CONTROL_PREFIX}settings", self.settings)):
            self.control.add("GET", path, lambda _request, target=target: self._control_state(target))
            self.control.add("POST", path, lambda request, target=target: self._control_update(target, request))
            self.control.add("DELETE", path, lambda _request, target=target: self._control_reset(target))
        self.control.add("GET", f"{CONTROL_PREFIX}clock", self._clock_state)
        self.control.add("POST", f"{CONTROL_PREFIX}clock", self._clock_advance)
        self.control.add("DELETE", f"{CONTROL_PREFIX}clock", self._clock_reset)
        self.control.add("POST", f"{CONTROL_PREFIX}reset", self._control_wipe)

    # hooks ---------------------------------------------------------------------------------------
    def seed(self) -> None:
        """Fill a new, empty store (called inside a transaction)."""

    def error(self, status: int, message: str) -> Response:
        """An error answer in this server's own shape (used for 404/405/500 and injected faults)."""
        return json_response(status, {"error": message})

    def authorize(self, request: Request, route: Route, params: dict[str, str]) -> None:
        """Raise HttpError to refuse the request before its handler runs."""

    # lifecycle -----------------------------------------------------------------------------------
    def open(self) -> None:
        """Seed a store the first time it is used; a restart on the same file keeps its state."""
        with self.store.transaction():
            if self.store.get_meta("seeded") is None:
                self.seed()
                self.store.set_meta("seeded", "1")

    # dispatch ------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._dispatch(self.control, request, transactional=False)
        injected = self._inject_fault()
        return injected or self._dispatch(self.router, request, transactional=True)

    def _inject_fault(self) -> Response | None:
        faults = self.faults
        if faults["outage"]:
            return self.error(503, "Service unavailable (emulated outage)")
        if faults["latency_ms"]:
            time.sleep(faults["latency_ms"] / 1000)
        if faults["error_rate"] and self._fault_dice.random() < faults["error_rate"]:
            status = faults["error_status"]
            return self.error(status, f"{HTTPStatus(status).phrase} (injected fault)")
        if faults["garbage"]:
            return Response(200, GARBAGE_BODY, {"Content-Type": "text/html; charset=utf-8"})
        return None

    def _dispatch(self, router: Router, request: Request, *, transactional: bool) -> Response:
        try:
            route, params = router.resolve(request.method, request.path)
        except NoRoute as missing:
            if missing.path_exists:
                return self.error(405, f"HTTP Method {request.method} is not allowed for this operation")
            return self.error(404, f"No route for {request.method} {request.path}")
        try:
            if not transactional:
                return route.handler(request, **params)
            with self.store.transaction():
                self.authorize(request, route, params)
                return route.handler(request, **params)
        except HttpError as refused:
            return refused.response
        except Exception as failure:
            traceback.print_exc(file=sys.stderr)
            return self.error(500, f"Internal error: {failure.__class__.__name__}: {failure}")

    # control endpoints ---------------------------------------------------------------------------
    def _control_state(self, target: Settings) -> Response:
        return json_response(200, target.as_dict())

    def _control_update(self, target: Settings, request: Request) -> Response:
        try:
            target.update(request.json())
        except ValueError as invalid:
            return json_response(400, {"error": str(invalid)})
        return json_response(200, target.as_dict())

    def _control_reset(self, target: Settings) -> Response:
        target.reset()
        return json_response(200, target.as_dict())

    def _clock_state(self, _request: Request) -> Response:
        return json_response(200, {"now": self.clock.now(), "offset_s": self.clock.offset_s})

    def _clock_advance(self, request: Request) -> Response:
        try:
            advance = request.json()["advance_s"]
            if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return json_response(400, {"error": 'expected {"advance_s": <seconds, >= 0>}'})
        self.clock.offset_s += advance
        return self._clock_state(request)

    def _clock_reset(self, request: Request) -> Response:
        self.clock.offset_s = 0.0
        return self._clock_state(request)

    def _control_wipe(self, _request: Request) -> Response:
        self.store.wipe()
        self.open()
        return json_response(200, {"reset": True})


# --- HTTP serving -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers; every answer carries Content-Length
    server: _Server

    def _serve(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            path=split.path,
            raw_query=split.query,
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
            origin=f"http://{host}",
            started=started,
        )
        response = self.server.emulator.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)
        elapsed = (time.monotonic() - started) * 1000
        sys.stderr.write(
            f'{self.server.emulator.name} "{self.command} {self.path}" {response.status} {elapsed:.1f}ms\n'
        )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: _serve writes the one line per request, with its duration."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator):
        super().__init__(address, _Handler)
        self.emulator = emulator


def base_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument(
        "--data", default=":memory:", help="SQLite file holding all state; kept across restarts (default: in memory)"
    )
    return parser


def serve(emulator: Emulator, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C, then close the store cleanly."""
    emulator.open()
    server = _Server((host, port), emulator)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() blocks until the loop ends

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"{emulator.name} emulator listening on http://{host}:{server.server_address[1]}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.store.close()
