"""Run-time state that tests steer through /__control__/: settings, faults and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


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
