"""Opaque list cursors and pages: `{"items": [...], "next_cursor": "..." | null}`.

A cursor is the keyset position of the last item on a page, base64url-encoded so it survives a
query string; clients pass `next_cursor` back unchanged. Queries fetch one row more than the
limit to know whether another page exists.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from paywire.errors import ValidationError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_SEPARATOR = "|"


def encode_cursor(*parts: object) -> str:
    raw = _SEPARATOR.join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, parse: Callable[[list[str]], T]) -> T:
    """The position in `cursor`, built by `parse` from its parts; 400 when it is not one of
    ours (`parse` raises `ValueError` for parts it cannot use)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return parse(raw.split(_SEPARATOR))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(
            "invalid cursor", details=[{"field": "cursor", "message": "is not a cursor we issued"}]
        ) from None


def parse_time_and_uuid(parts: list[str]) -> tuple[dt.datetime, uuid.UUID]:
    created_at, ident = parts
    at = dt.datetime.fromisoformat(created_at)
    if at.tzinfo is None:
        raise ValueError("naive timestamp")
    try:
        # Ours are in UTC. An offset can carry year 1 or 9999 past the range a timestamp has,
        # which the database driver would only find when it sends the query.
        return at.astimezone(dt.UTC), uuid.UUID(ident)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


# Keyset ids are PostgreSQL bigints; a larger number is no position of ours.
_BIGINT = range(-(2**63), 2**63)


def parse_int(parts: list[str]) -> int:
    (value,) = parts
    number = int(value)
    if number not in _BIGINT:
        raise ValueError("out of bigint range")
    return number


def page(
    rows: Sequence[R],
    limit: int,
    render: Callable[[R], dict[str, Any]],
    position: Callable[[R], tuple[object, ...]],
) -> dict[str, Any]:
    """The list body for `rows` fetched with `limit + 1`: at most `limit` items, and a cursor
    after the last one when there was a row more."""
    shown = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [render(row) for row in shown],
        "next_cursor": encode_cursor(*position(shown[-1])) if more and shown else None,
    }
