"""JSON in and out of the admin surface, through orjson.

Amounts travel as decimal strings, never floats: `Decimal` is written with `str`.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from paywire.errors import UnsupportedMediaType, ValidationError

JSON_CONTENT_TYPE = "application/json"
UTF_8 = "utf-8"
# No body of ours nests deeper than 3. orjson accepts 1,024 levels, and the code after it (the
# schema check, the NUL scan) walks a body recursively: ~500 levels exhausted Python's stack.
MAX_DEPTH = 32


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(data), status=status, content_type=JSON_CONTENT_TYPE, headers=headers
    )


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON; reading it enforces the app's `client_max_size`.

    Only a body declared as JSON is read. JSON is UTF-8 (RFC 8259), so a body that says it is
    in another charset is refused as sent, rather than read as UTF-8 and rejected as broken
    JSON, or worse, read as text its sender did not mean."""
    if request.content_type != JSON_CONTENT_TYPE:
        raise UnsupportedMediaType(
            f"send the body as JSON with the header Content-Type: {JSON_CONTENT_TYPE}",
            details=[{"field": "Content-Type", "message": f"must be {JSON_CONTENT_TYPE}"}],
        )
    if not _is_utf_8(request.charset or UTF_8):
        raise UnsupportedMediaType(
            "send the body as JSON in UTF-8, with no charset or charset=utf-8",
            details=[{"field": "Content-Type", "message": "charset must be utf-8"}],
        )
    raw = await request.read()
    if not raw:
        raise ValidationError("a JSON body is required", details=[_body_detail("is required")])
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError(
            "the body is not valid JSON", details=[_body_detail("is not valid JSON")]
        ) from None
    if _deeper_than(body, MAX_DEPTH):
        raise ValidationError(
            "the body is nested too deeply",
            details=[_body_detail(f"must not nest deeper than {MAX_DEPTH} levels")],
        )
    return body


def _is_utf_8(charset: str) -> bool:
    """By the codec it names, so that the spellings clients use (UTF8, utf_8) all count."""
    try:
        return codecs.lookup(charset).name == UTF_8
    except LookupError:
        return False


def _deeper_than(value: Any, depth: int) -> bool:
    """Level by level, without recursion: the check must not fail the way it guards against."""
    level = [value]
    for _ in range(depth):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def _body_detail(message: str) -> dict[str, str]:
    return {"field": "body", "message": message}
