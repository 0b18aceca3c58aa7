"""Gives up on messages that used every transmission: an ACK_MISSING exception for each.

The payment stays TRANSMITTED (SPEC §4): without a NACK it is never failed, and an answer that
still comes settles it as usual.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from paywire.domain.exception_kinds import ACK_MISSING
from paywire.services import gauges
from paywire.services import pipeline as steps
from paywire.store import delivery
from paywire.store.exception_queue import NewException
from paywire.store.tx import Pool, transaction

log = logging.getLogger(__name__)


class AckMissing:
    """One step of the sweep: take exhausted messages off the schedule and open exceptions, in
    one transaction, so each opens exactly once across processes."""

    def __init__(self, db: Pool, *, max_attempts: int) -> None:
        self._db = db
        self._max_attempts = max_attempts

    async def step(self, limit: int) -> int:
        async with transaction(self._db) as conn:
            exhausted = await delivery.exhausted(
                conn, limit, at=datetime.now(UTC), max_attempts=self._max_attempts
            )
            opened = await steps.open_exceptions_in(
                conn,
                [
                    NewException(
                        ACK_MISSING,
                        payment_id,
                        msg_id,
                        f"no answer after {self._max_attempts} transmissions",
                    )
                    for payment_id, msg_id in exhausted
                ],
            )
        # Counted once committed (`steps.open_exceptions_in` says why).
        if opened:
            await gauges.refresh_exceptions_open(self._db)
        for payment_id, msg_id in exhausted:
            log.warning(
                "no answer after the last transmission; ACK_MISSING opened",
                extra={"payment_id": str(payment_id), "msg_id": msg_id},
            )
        return len(exhausted)
