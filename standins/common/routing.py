"""Regex routes, tried in order."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .messages import Response


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
