"""The pipeline of one gateway process: its stage loops, the transmitter and the settler.

`start` runs everything; `drain` stops claiming, waits for the answers still due, writes them
and stops. Several processes may run a pipeline on one database: claims skip locked rows.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from paywire.config import Settings
from paywire.domain.audit_chain import AuditEntry
from paywire.domain.roles import Actor
from paywire.domain.screening import ScreeningRules
from paywire.domain.statuses import Status, refuse_own
from paywire.errors import Conflict, NotFound
from paywire.pipeline.compose import Composer
from paywire.pipeline.loop import StepLoop, rest
from paywire.pipeline.recovery import AckMissing
from paywire.pipeline.settler import Settler
from paywire.pipeline.stages import Quarantine, Stage
from paywire.pipeline.transmitter import Transmitter
from paywire.services import pipeline as steps
from paywire.services.ledger import LedgerAdapter
from paywire.store import audit, delivery
from paywire.store import payments as payments_store
from paywire.store.tx import Conn, Pool, transaction
from paywire.transport.pool import ConnectionPool

log = logging.getLogger(__name__)

# Payments a stage step claims at most, and how long an idle stage rests before looking again
# (it is woken as soon as work reaches it); the give-up sweep looks once a second.
BATCH = 500
IDLE_S = 0.05
SWEEP_S = 1.0
# What the settler gets at least, past the drain's deadline if need be, to write the answers
# received: the deployments' grace leaves a few seconds after the drain (docs/RUNBOOK.md).
SETTLER_STOP_MIN_S = 2.0
# How often a drain says how many answers it still waits for: a quiet stop looks like a hang.
DRAIN_REPORT_S = 5.0


class PipelineState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"


def instance_name() -> str:
    """Names this process in `messages.sent_by`: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pipeline:
    """Drives approved payments to settlement. The pool is the caller's to start and close,
    so that `drain` can wait for answers before the connections go."""

    def __init__(
        self,
        settings: Settings,
        db: Pool,
        pool: ConnectionPool,
        settler: Settler,
        ledger: LedgerAdapter,
        rules: ScreeningRules,
    ) -> None:
        self.state = PipelineState.NEW
        self._db = db
        self._ledger = ledger
        self._rules = rules
        self._compose = Composer.from_settings(settings)
        self._quarantine = Quarantine(settings.stuck_after_s)
        self._max_attempts = settings.max_attempts
        self.settler = settler
        self.transmitter = Transmitter(
            db,
            pool,
            self.settler.add,
            instance=instance_name(),
            window=settings.pool_size * settings.max_inflight,
            ack_timeout_s=settings.ack_timeout_s,
            max_attempts=settings.max_attempts,
            wake=self._wake_transmit,
        )
        screen = Stage(
            "screen", db, Status.APPROVED, self._screen, self._quarantine, self._after_posting
        )
        post = Stage("post", db, Status.SCREENED, self._post, self._quarantine, self._after_posting)
        self._loops = {
            "screen": StepLoop("screen", screen.step, batch=BATCH, idle_s=IDLE_S),
            "post": StepLoop("post", post.step, batch=BATCH, idle_s=IDLE_S),
            "transmit": StepLoop("transmit", self.transmitter.step, batch=BATCH, idle_s=IDLE_S),
            "ack-missing": StepLoop(
                "ack-missing",
                AckMissing(
                    db,
                    max_attempts=settings.max_attempts,
                    answer_wait=timedelta(seconds=settings.ack_timeout_s),
                ).step,
                batch=BATCH,
                idle_s=SWEEP_S,
            ),
        }

    def start(self) -> None:
        if self.state is not PipelineState.NEW:
            raise RuntimeError(f"pipeline is {self.state.value}, start() needs NEW")
        self.state = PipelineState.RUNNING
        self.settler.start()
        for loop in self._loops.values():
            loop.start()

    def wake(self) -> None:
        """An operator acted in this process (approved, released): look for work now rather
        than at the next poll."""
        for loop in self._loops.values():
            loop.wake()

    @property
    def ledger(self) -> LedgerAdapter:
        return self._ledger

    async def retry(self, payment_id: UUID, actor: Actor, *, request_id: str | None = None) -> None:
        """An operator's retry: drive a payment on now. A TRANSMITTED one gets one more
        transmission; one in an earlier processing status is taken out of quarantine. Either is
        audited as `payment.retry`."""
        async with transaction(self._db) as conn:
            await self.grant_retry(conn, payment_id, actor, request_id=request_id)
        self.release(payment_id)

    async def grant_retry(
        self, conn: Conn, payment_id: UUID, actor: Actor, *, request_id: str | None = None
    ) -> None:
        """The database half of `retry`, in the caller's transaction (an exception resolved with
        a resend); the caller calls `release` once it has committed, so that a resolution that
        fails leaves the payment where it was."""
        payment = await payments_store.get(conn, payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist")
        refuse_own(actor, payment.created_by, payment.approved_by, "retry it")
        before: dict[str, object] = {"status": payment.status.value}
        after = dict(before)
        if payment.status is Status.TRANSMITTED:
            limits = await delivery.grant_attempt(
                conn, payment_id, at=datetime.now(UTC), max_attempts=self._max_attempts
            )
            if limits is None:
                raise Conflict("the payment's message is answered or not stored yet")
            before["attempt_limit"], after["attempt_limit"] = limits
        elif payment.status in (Status.APPROVED, Status.SCREENED, Status.POSTED):
            after["claimed"] = "now"
        else:
            raise Conflict(f"payment is {payment.status.value}: there is nothing to retry")
        entry = AuditEntry(
            operator=actor.username,
            action="payment.retry",
            entity="payment",
            entity_id=str(payment_id),
            before=before,
            after=after,
            request_id=request_id,
        )
        await audit.append(conn, [entry])

    def release(self, payment_id: UUID) -> None:
        """Take a payment whose retry is committed out of quarantine, and look for work now."""
        self._quarantine.release(payment_id)
        self.wake()

    async def drain(self, deadline_s: float) -> None:
        """Stop claiming; give the steps under way and the transmissions in flight up to
        `deadline_s` in all (a step still running then is cancelled, its transaction rolled back);
        write every answer received. What is left unanswered is resent by the next start."""
        if self.state is not PipelineState.RUNNING:
            return
        self.state = PipelineState.DRAINING
        deadline = asyncio.get_running_loop().time() + deadline_s
        await asyncio.gather(*(loop.stop(deadline_s) for loop in self._loops.values()))
        try:
            async with asyncio.timeout_at(deadline):
                while not await rest(self.transmitter.idle, DRAIN_REPORT_S):
                    log.info(
                        "draining: %d messages awaiting their answers, %.0f s left",
                        self.transmitter.inflight,
                        deadline - asyncio.get_running_loop().time(),
                    )
        except TimeoutError:
            log.warning(
                "drain deadline passed with %d messages unanswered; they are resent on restart",
                self.transmitter.inflight,
            )
        left_s = deadline - asyncio.get_running_loop().time()
        await self.settler.stop(max(left_s, SETTLER_STOP_MIN_S))
        self.state = PipelineState.STOPPED

    # -- stage hooks ----------------------------------------------------------------------------

    async def _screen(self, conn: Conn, ids: Sequence[UUID]) -> steps.Outcome:
        return await steps.screen_and_post(conn, ids, self._rules, self._ledger, self._compose)

    async def _post(self, conn: Conn, ids: Sequence[UUID]) -> steps.Outcome:
        return await steps.post(conn, ids, self._ledger, self._compose)

    def _after_posting(self, outcome: steps.Outcome) -> None:
        """Screening and posting both end in POSTED: the transmitter has work."""
        if outcome.moved.get(Status.POSTED):
            self._loops["transmit"].wake()

    def _wake_transmit(self) -> None:
        self._loops["transmit"].wake()
