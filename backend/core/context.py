"""Who is asking, from where, under which request id: set once per request (or job), read anywhere.

A contextvar rather than a thread-local so the same value follows a request into async code (Channels)
and can be set by Celery tasks and consumers from the message they handle.
"""

import contextvars
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user: Any = None  # the authenticated user (acct.User), or None for the system itself
    source_ip: str | None = None
    user_agent: str = ""


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("cdss_request", default=None)


def current() -> RequestContext:
    return _current.get() or RequestContext(request_id="")


def activate(context: RequestContext) -> contextvars.Token:
    return _current.set(context)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


def with_user(user: Any) -> None:
    """Record the caller once authentication has identified them (DRF authenticates inside the view)."""
    _current.set(replace(current(), user=user))


def accepted_request_id(value: str | None) -> str:
    """Keep an id from the edge when it is well-formed; otherwise mint one (never trust arbitrary text in logs)."""
    return value if value and _VALID_REQUEST_ID.match(value) else uuid.uuid4().hex


class RequestIdLogFilter:
    """Adds `request_id` to every log record so one request can be followed through all the logs."""

    def filter(self, record) -> bool:
        record.request_id = current().request_id or "-"
        return True
