"""SQL of the payment archive: finished payments older than seven years leave the live tables.

`archive_payments` (migration 0009) moves a payment with its whole family in one statement; it
is the one way the database lets those rows go.
"""

from __future__ import annotations

from datetime import datetime

from paywire.store.tx import Conn


async def archive_payments(conn: Conn, before: datetime, limit: int) -> int:
    """Move up to `limit` payments created before `before` (at least seven years ago), finished,
    without an open exception and with nothing of theirs newer; returns how many moved."""
    moved: int = await conn.fetchval("SELECT archive_payments($1, $2)", before, limit)
    return moved
