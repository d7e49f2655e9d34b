"""Reading a request as HAPI reads it: the body, numbers, ETags, the Prefer header, escaped search values."""

from __future__ import annotations

import re

from ..common.messages import Request
from .outcomes import fail
from .r4 import JSON_MEDIA_TYPES


def parse_body(request: Request, operation: str) -> dict:
    content_type = request.header("Content-Type")
    if not content_type:
        raise fail(400, "no_content_type", operation=operation)
    if content_type.split(";")[0].strip().lower() not in JSON_MEDIA_TYPES:
        raise fail(400, "bad_content_type", content_type=content_type, operation=operation)
    try:
        data = request.json()
    except ValueError as error:
        raise fail(400, "bad_json", error=error) from None
    if not isinstance(data, dict):
        raise fail(400, "bad_json", error="the content is not a JSON object")
    return data


def int_param(request: Request, name: str, default: int) -> int:
    value = request.param(name)
    if value is None:
        return default
    if not value.isdigit():
        raise fail(400, "bad_number", name=name, value=value)
    return int(value)


def parse_etag(value: str) -> int:
    digits = value.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise fail(400, "bad_etag", value=value)
    return int(digits)


def prefer_return(request: Request) -> str:
    """`representation` (HAPI's default), `minimal` or `operationoutcome`."""
    for part in re.split(r"[;,]", request.header("Prefer")):
        name, _, value = part.strip().partition("=")
        if name.lower() == "return":
            return value.strip().strip('"').lower()
    return "representation"


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split a search value on `separator` unless backslash-escaped (R4 search.html#escaping)."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += char if char in ",|$\\" else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts
