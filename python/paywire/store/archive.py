"""SQL of the payment archive: finished payments older than seven years leave the live tables.

`archive_payments` (migration 0009) moves a payment with its whole family in one statement; it
is the one way the database lets those rows go.
"""

from __future__ import annotations

from datetime import datetime

from paywire.store.tx import Conn


async def archive_payments(conn: Conn, before: datetime, limit: int) -> int:
    """Move up to `limit` payments created before `before`, finished, without an open exception
    and with nothing of theirs newer; returns how many moved. `before` is held to the database's
    own seven-year floor, as the audit purge's is: a gateway clock a moment ahead of the server's
    would otherwise be refused, on every run."""
    moved: int = await conn.fetchval(
        "SELECT archive_payments(least($1::timestamptz, now() - interval '7 years'), $2)",
        before,
        limit,
    )
    return moved
