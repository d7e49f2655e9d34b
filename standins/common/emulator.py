"""The base of both stand-ins: dispatch inside a transaction, injected faults, the control endpoints."""

from __future__ import annotations

import random
import sys
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .messages import HttpError, Request, Response, json_response
from .routing import NoRoute, Route, Router
from .state import FAULT_CHECKS, FAULT_DEFAULTS, Clock, Settings
from .store import Store

CONTROL_PREFIX = "/__control__/"
GARBAGE_BODY = b"<html><body><h1>Service temporarily in maintenance</h1></body></html>"


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
