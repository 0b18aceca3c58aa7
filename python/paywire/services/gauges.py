"""Gauges that count rows rather than events (SPEC §8), set from the database.

Counted, not incremented, so every gateway process on one database reports the same number.
"""

from __future__ import annotations

import logging

from paywire.observability.metrics import exceptions_open
from paywire.store import exception_queue
from paywire.store.tx import TRANSIENT_ERRORS, Db, connection

log = logging.getLogger(__name__)


async def refresh_exceptions_open(db: Db) -> None:
    """Set `exceptions_open` to the exceptions OPEN now. Called once the change it follows has
    committed: the database gone a moment here must not fail that change's caller, who would
    take it for undone and do it again (a settled batch settled twice, its answers stored
    twice; a resolution answered 503). The next refresh, at the latest the next sweep's, sets
    the gauge."""
    try:
        async with connection(db) as conn:
            count = await exception_queue.count_open(conn)
    except TRANSIENT_ERRORS as exc:
        log.warning("exceptions_open not refreshed: %s: %s", type(exc).__name__, exc)
        return
    exceptions_open.set(count)
