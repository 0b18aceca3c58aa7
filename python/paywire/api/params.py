"""Query and header parameters shared by several endpoints, and their conversion.

Declared once so the OpenAPI document describes `limit` and `cursor` the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from paywire.api.paging import DEFAULT_LIMIT, MAX_LIMIT, parse_int
from paywire.api.routes import Param
from paywire.domain.validation import report_day_problem
from paywire.errors import NotFound, ValidationError

LIMIT = Param(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    f"Items per page, at most {MAX_LIMIT}",
)
CURSOR = Param(
    "cursor",
    {"type": "string", "minLength": 1, "maxLength": 512},
    "The `next_cursor` of the previous page, unchanged",
)
PAGING = (LIMIT, CURSOR)


def limit(query: dict[str, Any]) -> int:
    value: int = query.get("limit", DEFAULT_LIMIT)
    return value


def report_day(query: dict[str, Any]) -> dt.date:
    """The `date` of a day's report (YYYY-MM-DD, already validated), refused when the report
    cannot be made yet (`validation.report_day_problem`)."""
    day = dt.date.fromisoformat(query["date"])
    problem = report_day_problem(day, dt.datetime.now(dt.UTC).date())
    if problem is not None:
        raise ValidationError("invalid query", details=[{"field": "date", "message": problem}])
    return day


def day_start(value: str | None) -> dt.datetime | None:
    """Midnight UTC opening the day `value` (YYYY-MM-DD, already validated)."""
    if value is None:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)


def day_after(value: str | None) -> dt.datetime | None:
    """Midnight UTC closing the day `value`: the exclusive end of an inclusive date range. The
    last representable day has no day after it, and bounds nothing."""
    start = day_start(value)
    if start is None or start.date() == dt.date.max:
        return None
    return start + dt.timedelta(days=1)


def days(query: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The `from` and `to` days of a query (both inclusive) as the start and exclusive end of
    the time they cover; a `from` after `to` is refused, where it would match nothing and pass
    for an empty result."""
    first, last = query.get("from"), query.get("to")
    if first and last and dt.date.fromisoformat(first) > dt.date.fromisoformat(last):
        raise ValidationError(
            "invalid query",
            details=[
                {"field": "from", "message": f"must not be after to ({last})"},
                {"field": "to", "message": f"must not be before from ({first})"},
            ],
        )
    return day_start(first), day_after(last)


def uuid_path(value: str, what: str) -> uuid.UUID:
    """A path id that is not a UUID names nothing: 404, like an unknown one."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {what} {value}") from None


def int_path(value: str, what: str) -> int:
    """A path id that is not a positive bigint in ASCII digits names nothing: 404."""
    if value.isascii() and value.isdigit():
        try:
            return parse_int([value])
        except ValueError:
            pass
    raise NotFound(f"no {what} {value}")
