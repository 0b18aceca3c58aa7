"""The claim-and-process steps of the database-only stages: screening and posting.

Each batch is claimed and processed in one transaction. A batch that fails for a reason other
than the database being away is split, so one bad payment cannot hold up the others: it is
quarantined with a PROCESSING_ERROR exception and tried again once `stuck_after` has passed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from paywire.domain.exception_kinds import PROCESSING_ERROR
from paywire.domain.statuses import Status
from paywire.pipeline.loop import one_by_one
from paywire.services import pipeline as steps
from paywire.store.exception_queue import NewException
from paywire.store.tx import TRANSIENT_ERRORS, Conn, Pool, transaction

log = logging.getLogger(__name__)

Process = Callable[[Conn, Sequence[UUID]], Awaitable[steps.Outcome]]


class Quarantine:
    """Payments whose processing failed, left alone until `hold_s` has passed."""

    def __init__(self, hold_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold_s = hold_s
        self._clock = clock
        self._until: dict[UUID, float] = {}

    def add(self, payment_id: UUID) -> None:
        self._until[payment_id] = self._clock() + self._hold_s

    def release(self, payment_id: UUID) -> None:
        self._until.pop(payment_id, None)

    def current(self) -> list[UUID]:
        now = self._clock()
        for payment_id in [p for p, until in self._until.items() if until <= now]:
            del self._until[payment_id]
        return list(self._until)


class Stage:
    """Claims payments in `status` and hands them to `process` in the same transaction;
    `on_moved` hears of the payments that left `status`, to wake the next stage."""

    def __init__(
        self,
        name: str,
        db: Pool,
        status: Status,
        process: Process,
        quarantine: Quarantine,
        on_moved: Callable[[steps.Outcome], None],
    ) -> None:
        self.name = name
        self._db = db
        self._status = status
        self._process = process
        self._quarantine = quarantine
        self._on_moved = on_moved

    async def step(self, limit: int) -> int:
        claimed: list[UUID] = []
        try:
            async with transaction(self._db) as conn:
                claimed = await steps.claim(
                    conn, self._status, limit, exclude=self._quarantine.current()
                )
                if not claimed:
                    return 0
                outcome = await self._process(conn, claimed)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            if not claimed:
                raise
            log.exception("%s: batch of %d failed; processing one by one", self.name, len(claimed))
            await one_by_one(claimed, self._process_one, self._quarantine_one)
            return len(claimed)
        self._on_moved(outcome)
        return len(claimed)

    async def _process_one(self, payment_id: UUID) -> None:
        async with transaction(self._db) as conn:
            outcome = await self._process(conn, [payment_id])
        self._on_moved(outcome)

    async def _quarantine_one(self, payment_id: UUID, exc: Exception) -> None:
        log.error("%s: payment failed", self.name, exc_info=exc, extra={"payment_id": payment_id})
        self._quarantine.add(payment_id)
        await steps.open_exceptions(
            self._db,
            [
                NewException(
                    PROCESSING_ERROR,
                    payment_id,
                    None,
                    f"{self.name}: {type(exc).__name__}: {exc}"[:1000],
                )
            ],
        )
