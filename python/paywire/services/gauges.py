"""Gauges that count rows rather than events (SPEC §8), set from the database.

Counted, not incremented, so every gateway process on one database reports the same number.
"""

from __future__ import annotations

from paywire.observability.metrics import exceptions_open
from paywire.store import exception_queue
from paywire.store.tx import Db, connection


async def refresh_exceptions_open(db: Db) -> int:
    """Set `exceptions_open` to the exceptions OPEN now; returns the count."""
    async with connection(db) as conn:
        count = await exception_queue.count_open(conn)
    exceptions_open.set(count)
    return count
