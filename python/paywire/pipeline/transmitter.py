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
from uuid import UUID

from paywire.domain.statuses import Status
from paywire.services import pipeline as steps
from paywire.store import delivery
from paywire.store.delivery import Transmission
from paywire.store.tx import Pool, transaction
from paywire.transport.breaker import BreakerState
from paywire.transport.errors import Unanswered
from paywire.transport.pool import ConnectionPool
from paywire.wire import Answer

log = logging.getLogger(__name__)

_SEND_AGAIN_NOW = frozenset({"connection_lost", "closed"})
# Refused before a byte was written: the breaker was open, or no connection had room before the
# claim's lease ran out (connections lost between the claim and the send, and not back in time).
_NEVER_WRITTEN = frozenset({"breaker_open", "no_room"})
# How long before a lease ends (at most half of it) what is not yet queued is given back.
_GIVE_BACK_MARGIN_S = 1.0


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
        # What is not queued this long after its claim is given back: early enough that the
        # give-back commits while the lease still holds, before the ACK_MISSING sweep or another
        # process takes the message as overdue and counts an attempt that never left.
        self._queue_within_s = ack_timeout_s - min(ack_timeout_s / 2, _GIVE_BACK_MARGIN_S)
        self._max_attempts = max_attempts
        self._wake = wake
        # This process's transmissions awaiting their outcome, msg_id → (payment_id, attempt).
        self._sending: dict[str, tuple[UUID, int]] = {}
        self._lost: list[tuple[UUID, int]] = []
        self._unsent: list[tuple[UUID, int]] = []
        # Set while no transmission of this process awaits its outcome (the drain waits on it).
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def inflight(self) -> int:
        return len(self._sending)

    def ready(self) -> bool:
        """Whether a send could go out now: a connection is up and the breaker lets it."""
        return self._pool.open_connections > 0 and self._pool.breaker.state is not BreakerState.OPEN

    async def step(self, limit: int) -> int:
        """Claim up to `limit` transmissions, as many as the window and the open connections
        have room for, and send them."""
        # No more than the open connections take now: a claim's lease runs from the claim, and a
        # message waiting in the pool for a connection to come back could outlast it (sent
        # twice, or ACK_MISSING before it ever left).
        room = min(limit, self._window - len(self._sending), self._pool.room)
        if self._lost or self._unsent:
            await self._make_due()
        if room <= 0 or not self.ready():
            return 0
        async with transaction(self._db) as conn:
            # The leases run from when the claim has its connection: read before, the clock
            # would count the wait for one (up to POOL_WAIT_S) against the answer's time.
            now = datetime.now(UTC)
            queue_by = asyncio.get_running_loop().time() + self._queue_within_s
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
                # A lease can run out a moment before the pool gives the message up; it is
                # still on its way here, and its outcome comes first.
                exclude=[payment_id for payment_id, _ in self._sending.values()],
            )
            if len(sends) < room:
                fresh = await steps.claim(conn, Status.POSTED, room - len(sends))
                sends += await steps.transmit(
                    conn, fresh, at=now, lease=self._lease, by=self._instance
                )
        await self._send(sends, queue_by)
        return len(sends)

    async def _send(self, sends: Sequence[Transmission], queue_by: float) -> None:
        """Hand the claimed transmissions to the pool; those it has not queued by `queue_by`,
        shortly before their leases end, are given back (another process may claim them then,
        and must not resend a message that is still waiting here for a connection)."""
        if not sends:
            return
        self._sending.update((t.msg_id, (t.payment_id, t.attempt)) for t in sends)
        self.idle.clear()
        try:
            await self._pool.submit_many(
                [(t.msg_id, t.payload, str(t.uetr)) for t in sends],
                self._outcome,
                queue_by=queue_by,
            )
        except ValueError:
            # Refused whole (a bug, not the network): nothing was queued. The leases bring
            # them back; the loop logs the error.
            for t in sends:
                del self._sending[t.msg_id]
            if not self._sending:
                self.idle.set()
            raise
        if self._lost or self._unsent:
            # Those the pool could not even queue: due again now, once it can take them.
            held = len(self._lost) + len(self._unsent)
            log.warning("%d transmissions held back or lost; due again now", held)
            await self._make_due()

    def _outcome(self, msg_id: str, outcome: Answer | Unanswered) -> None:
        transmission = self._sending.pop(msg_id)
        if not self._sending:
            self.idle.set()
        if not isinstance(outcome, Unanswered):
            self._on_answer(outcome)
        elif outcome.reason in _NEVER_WRITTEN:
            # Due again, and the attempt given back.
            self._unsent.append(transmission)
        elif outcome.reason in _SEND_AGAIN_NOW and transmission[1] == 1:
            # Lost with its connection, or never written: the receiver may or may not have it;
            # resending at once is safe (it de-duplicates by MsgId) and quicker than waiting out
            # the lease. Only after the first transmission: a message lost again may be what
            # breaks the receiver's connections, and its lease paces it as a timeout's would,
            # so a receiver that hangs up on it cannot use up its attempts in a second.
            self._lost.append(transmission)
        # A timeout, or a loss after the first transmission, needs nothing: the lease runs out
        # and the message falls due.
        self._wake()

    async def _make_due(self) -> None:
        lost, unsent = list(self._lost), list(self._unsent)
        now = datetime.now(UTC)
        async with transaction(self._db) as conn:
            if lost:
                await delivery.due_now(conn, lost, at=now, by=self._instance)
            if unsent:
                await delivery.due_now(conn, unsent, at=now, by=self._instance, written=False)
        del self._lost[: len(lost)]
        del self._unsent[: len(unsent)]
