"""HTTP messages as the stand-ins see them: the request, the answer, and the exception that answers early."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs


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
