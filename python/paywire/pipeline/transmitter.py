"""Sends stored messages through the TLS pool: first transmissions and resends that fell due.

A transmission is recorded (attempt counted, lease taken) and committed before its bytes leave,
so a crash can only cause a resend, never a send the database does not know of. No database
connection is held while waiting on the network: answers come back through future callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

from paywire.domain.statuses import Status
from paywire.services import pipeline as services
from paywire.store import delivery
from paywire.store.delivery import Transmission
from paywire.store.tx import Pool, transaction
from paywire.transport.breaker import BreakerState
from paywire.transport.errors import Unanswered
from paywire.transport.pool import ConnectionPool
from paywire.wire import Answer

log = logging.getLogger(__name__)


class Transmitter:
    """Keeps up to `window` messages in flight; `on_answer` receives every ACK and NACK."""

    def __init__(
        self,
        db: Pool,
        pool: ConnectionPool,
        on_answer: Callable[[Answer], None],
        *,
        instance: str,
        window: int,
        ack_timeout_s: float,
        max_attempts: int,
        wake: Callable[[], None],
    ) -> None:
        self._db = db
        self._pool = pool
        self._on_answer = on_answer
        self._instance = instance
        self._window = window
        self._lease = timedelta(seconds=ack_timeout_s)
        self._max_attempts = max_attempts
        self._wake = wake
        self._inflight = 0
        self._lost: list[UUID] = []
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def inflight(self) -> int:
        return self._inflight

    async def wait_idle(self) -> None:
        """Return once no transmission of this process awaits its answer."""
        await self._idle.wait()

    def ready(self) -> bool:
        """Whether a send could go out now: a connection is up and the breaker lets it."""
        return self._pool.open_connections > 0 and self._pool.breaker.state is not BreakerState.OPEN

    async def step(self, limit: int) -> int:
        """Claim up to `limit` transmissions, as many as the window has room for, and send them."""
        room = min(limit, self._window - self._inflight)
        if self._lost:
            await self._make_due(self._lost)
        if room <= 0 or not self.ready():
            return 0
        now = datetime.now(UTC)
        async with transaction(self._db) as conn:
            # Resends first: they are the older messages. Behind a backlog of fresh payments a
            # message lost with a connection or a dead process would otherwise wait for the
            # whole backlog, past its answer window (reconciliation's MISSING_ACK).
            sends = await delivery.claim_due(
                conn,
                room,
                at=now,
                lease=self._lease,
                by=self._instance,
                max_attempts=self._max_attempts,
            )
            if len(sends) < room:
                fresh = await services.claim(conn, Status.POSTED, room - len(sends))
                sends += await services.transmit(
                    conn, fresh, at=now, lease=self._lease, by=self._instance
                )
        await self._send(sends)
        return len(sends)

    async def _send(self, sends: Sequence[Transmission]) -> None:
        unsent: list[UUID] = []
        for index, t in enumerate(sends):
            try:
                future = await self._pool.submit(t.msg_id, t.payload, uetr=str(t.uetr))
            except Unanswered as exc:
                log.warning("transmissions held back: %s", exc.reason)
                unsent.extend(s.payment_id for s in sends[index:])
                break
            self._inflight += 1
            self._idle.clear()
            future.add_done_callback(partial(self._answered, t.payment_id))
        if unsent:
            # Never left this process: due again now, once the pool can take them.
            await self._make_due(unsent)

    def _answered(self, payment_id: UUID, future: asyncio.Future[Answer]) -> None:
        self._inflight -= 1
        if not self._inflight:
            self._idle.set()
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            self._on_answer(future.result())
        elif isinstance(exc, Unanswered) and exc.reason == "connection_lost":
            # The receiver may or may not have it; resending at once is safe (it de-duplicates
            # by MsgId) and quicker than waiting out the lease.
            self._lost.append(payment_id)
        # A timeout needs nothing: the lease runs out with it and the message falls due.
        self._wake()

    async def _make_due(self, payment_ids: list[UUID]) -> None:
        batch = list(payment_ids)
        async with transaction(self._db) as conn:
            await delivery.due_now(conn, batch, at=datetime.now(UTC))
        if payment_ids is self._lost:
            del self._lost[: len(batch)]
