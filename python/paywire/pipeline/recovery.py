"""Gives up on messages that used every transmission: an ACK_MISSING exception for each.

The payment stays TRANSMITTED (SPEC §4): without a NACK it is never failed, and an answer that
still comes settles it as usual.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from paywire.domain.exception_kinds import ACK_MISSING
from paywire.services import gauges
from paywire.services import pipeline as steps
from paywire.store import delivery
from paywire.store.exception_queue import NewException
from paywire.store.tx import Pool, transaction

log = logging.getLogger(__name__)


class AckMissing:
    """One step of the sweep: take exhausted messages off the schedule and open exceptions, in
    one transaction, so each opens exactly once across processes.

    A last transmission is given up `answer_wait` after its lease ends, not at once: the lease
    runs from the claim, but the pool may queue the message up to almost an answer timeout
    later (waiting for a connection with room) and then waits a whole timeout from the write.
    Given up at the lease, an answer still awaited opened an exception that it closed moments
    later."""

    def __init__(self, db: Pool, *, max_attempts: int, answer_wait: timedelta) -> None:
        self._db = db
        self._max_attempts = max_attempts
        self._answer_wait = answer_wait

    async def step(self, limit: int) -> int:
        async with transaction(self._db) as conn:
            exhausted = await delivery.exhausted(
                conn,
                limit,
                at=datetime.now(UTC) - self._answer_wait,
                max_attempts=self._max_attempts,
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
