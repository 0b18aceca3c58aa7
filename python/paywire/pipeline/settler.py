"""Collects the receiver's answers and settles them in batches, one transaction per batch.

Answers arrive one by one from the transport; while a batch is being written the next one
gathers, so batches grow with the load and an idle gateway settles a lone answer at once. A
batch that fails for a reason other than the database being away is settled answer by answer,
so one answer the database refuses cannot hold up the genuine ones beside it. An answer whose
payment another transaction holds waits aside, with every later answer to its message, and is
tried again shortly; the answers behind it go on settling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from paywire.domain.validation import defanged
from paywire.observability.logging import Throttled
from paywire.observability.metrics import tls_protocol_anomalies_total
from paywire.pipeline.loop import backoff_s, finish, one_by_one, rest
from paywire.services import pipeline as steps
from paywire.services.ledger import LedgerAdapter
from paywire.store.messages import IncomingAnswer, Receipt, receipt
from paywire.store.tx import TRANSIENT_ERRORS, Pool
from paywire.wire import Answer

log = logging.getLogger(__name__)

# How much of a refused answer's MsgId is logged: every MsgId paywire sends fits (Max35Text).
_LOGGED_MSG_ID_CHARS = 35
# Answers waiting to be written, by their bytes. A receiver that floods answers naming no
# message of ours (each up to the frame limit), or a database away for long, must not grow the
# gateway without end: ~180,000 answers of a usual size. Past it an answer is dropped and
# counted; its message, if it is ours, stays unanswered in the database and is resent.
QUEUE_BYTES = 128 * 1024 * 1024
# What an answer costs beside its payload: the Python objects that carry it.
_ANSWER_OVERHEAD = 512
# How long answers whose payments another transaction holds wait before they are tried again,
# and how old the oldest of them is when the log starts saying so (at most once a minute).
HELD_RETRY_S = 0.5
HELD_WARN_S = 10.0


def incoming(answer: Answer) -> IncomingAnswer:
    """The answer as the store keeps it, stamped with the time it was received. What the
    receiver wrote as text is defanged, the MsgId too: one naming no message of ours is shown to
    operators as an orphan, and ours never hold such characters, so matching is unchanged."""
    return IncomingAnswer(
        msg_id=defanged(answer.msg_id),
        kind=answer.kind,
        status=answer.status,
        reason_code=answer.reason_code and defanged(answer.reason_code),
        reason_text=answer.reason_text and defanged(answer.reason_text),
        uetr=answer.uetr,
        payload=answer.payload,
        received_at=datetime.now(UTC),
    )


class Settler:
    """`add` answers from any callback; once `start`ed it writes them; `stop` writes what is
    queued and ends.

    An answer that cannot be written (the database is away) stays queued and is retried; if the
    process dies first, the message is still unanswered in the database, so it is resent and the
    receiver answers again. An answer that fails to settle on its own is dropped, logged and
    counted (`tls_protocol_anomalies_total{kind="unsettleable"}`): retrying it cannot help. At
    most `max_queued_bytes` of answers wait, those waiting for a payment's lock included; past
    it one is dropped and counted (`overflow`).
    """

    def __init__(
        self,
        db: Pool,
        ledger: LedgerAdapter,
        *,
        batch: int = 1000,
        backoff_max_s: float = 5.0,
        max_queued_bytes: int = QUEUE_BYTES,
    ) -> None:
        self._db = db
        self._ledger = ledger
        self._batch = batch
        self._backoff_max_s = backoff_max_s
        self._max_queued_bytes = max_queued_bytes
        self._queue: list[IncomingAnswer] = []
        # Answers whose payments another transaction held, in arrival order, with their msg_ids;
        # back to the head of the queue at `_retry_at` (loop time).
        self._waiting: list[IncomingAnswer] = []
        self._waiting_ids: set[str] = set()
        self._retry_at = 0.0
        # Answers a settle failed on with the database away, which may have come after its
        # commit: stored already, perhaps (`settle_in`'s `recheck`), until settled again.
        self._unsure: set[Receipt] = set()
        self._held_log = Throttled(log, every_s=60.0)
        self._queued_bytes = 0
        self._overflowing = False
        self._told_late = False
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._waiting)

    def add(self, answer: Answer) -> None:
        if self._task is not None and self._task.done():
            # Between the stop and the pool's close: nobody would write it. Its message is
            # still unanswered in the database, so it is resent after its lease.
            if not self._told_late:
                self._told_late = True
                log.warning("answers arrive after the settler stopped: not written, resent later")
            return
        size = _size(answer.payload)
        if self._queued_bytes + size > self._max_queued_bytes:
            tls_protocol_anomalies_total.labels(kind="overflow").inc()
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "%d answers (%d bytes) wait to be written; answers are dropped until they"
                    " are (their messages are resent): is the database away, or the receiver"
                    " flooding answers?",
                    self.pending,
                    self._queued_bytes,
                )
            return
        self._queue.append(incoming(answer))
        self._queued_bytes += size
        self._idle.clear()
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="paywire-settler")

    async def drain(self) -> None:
        """Return once every answer added so far is written."""
        await self._idle.wait()

    async def stop(self, within_s: float | None = None) -> None:
        """Write what is queued, then stop; a write still under way after `within_s` is
        cancelled. The answers left unwritten are lost to this process only: their messages are
        still unanswered in the database, so they are resent and answered again."""
        self._stopping.set()
        self._ready.set()
        if self._task is not None:
            await finish(self._task, within_s, "writing the answers received")
        if self.pending:
            log.error(
                "settler stopped with %d answers unwritten (some may wait for payments another"
                " transaction holds): their messages are resent and answered again after the"
                " restart",
                self.pending,
            )

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            if self._waiting and loop.time() >= self._retry_at:
                self._retry_waiting()
            if not self._queue:
                if self._waiting:
                    # A stop waits for them too, up to its deadline.
                    self._ready.clear()
                    await rest(self._ready, self._retry_at - loop.time())
                    continue
                self._idle.set()
                if self._stopping.is_set():
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            batch = self._queue[: self._batch]
            try:
                await self._settle(batch)
            except TRANSIENT_ERRORS as exc:
                failures += 1
                delay = backoff_s(failures, self._backoff_max_s)
                log.warning("settling failed, retrying in %.2f s: %s", delay, exc)
                if self._stopping.is_set():
                    # What is left of the stop's deadline is theirs: `stop` cancels the wait.
                    await asyncio.sleep(delay)
                else:
                    await rest(self._stopping, delay)  # a stop retries at once
                continue
            failures = 0

    async def _settle(self, batch: list[IncomingAnswer]) -> None:
        """Settle `batch`, the head of the queue, and take it off the queue; when it fails for a
        reason other than the database, settle its answers one by one instead."""
        try:
            held = await self._settle_ready(batch)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("settling a batch of %d answers failed; settling one by one", len(batch))
        else:
            self._wait_aside(batch, held)
            self._take(len(batch))
            return
        await one_by_one(batch, self._settle_one, self._refuse)

    async def _settle_one(self, answer: IncomingAnswer) -> None:
        # One by one, each answer leaves the queue (whose head it is) as soon as it is settled
        # or refused, so a database failure half-way resumes with the next, not the first.
        held = await self._settle_ready([answer])
        self._wait_aside([answer], held)
        self._take(1)

    async def _settle_ready(self, answers: Sequence[IncomingAnswer]) -> list[str]:
        """Settle those of `answers` whose messages have no answer kept aside; the msg_ids of
        those whose payments another transaction held."""
        ready = [a for a in answers if a.msg_id not in self._waiting_ids]
        if not ready:
            return []
        receipts = {receipt(a) for a in ready} if self._unsure else set()
        recheck = not self._unsure.isdisjoint(receipts)
        try:
            settlement = await steps.settle(self._db, ready, self._ledger, recheck=recheck)
        except TRANSIENT_ERRORS:
            # The database went, perhaps after the commit: these may be stored already.
            self._unsure.update(receipt(a) for a in ready)
            raise
        if receipts:
            # Those waiting aside were not looked for: they stay unsure until settled.
            self._unsure -= receipts - {receipt(a) for a in settlement.waiting}
        return [a.msg_id for a in settlement.waiting]

    def _wait_aside(self, answers: Sequence[IncomingAnswer], held: Iterable[str]) -> None:
        """Keep aside, in their order, those of `answers` (about to leave the queue) whose
        payments another transaction `held`, and the others to the same messages: an answer
        must not settle before one to its message that came first. Their bytes are counted
        before the queue gives up its own, so the count never dips below what is kept."""
        self._waiting_ids.update(held)
        if not self._waiting_ids:
            return
        aside = [a for a in answers if a.msg_id in self._waiting_ids]
        if not aside:
            return
        if not self._waiting:
            self._retry_at = asyncio.get_running_loop().time() + HELD_RETRY_S
        self._waiting += aside
        self._queued_bytes += sum(_size(a.payload) for a in aside)
        oldest = min(a.received_at for a in self._waiting)
        waited_s = (datetime.now(UTC) - oldest).total_seconds()
        if waited_s >= HELD_WARN_S:
            self._held_log.warning(
                "held",
                "answers to %d messages have waited %.0f s for their payments, which another"
                " transaction holds locked; the other answers settle meanwhile. Find the holder"
                " in pg_stat_activity (a transaction left open?)",
                len(self._waiting_ids),
                waited_s,
            )

    def _retry_waiting(self) -> None:
        """The answers kept aside go back to the head of the queue, in their order."""
        self._queue[:0] = self._waiting
        self._waiting = []
        self._waiting_ids.clear()

    async def _refuse(self, answer: IncomingAnswer, exc: Exception) -> None:
        """Drop an answer that cannot be settled even alone; its payment, if it names one, stays
        TRANSMITTED and is resent, so nothing is settled on an answer paywire did not keep."""
        self._take(1)
        self._unsure.discard(receipt(answer))
        tls_protocol_anomalies_total.labels(kind="unsettleable").inc()
        # The answer's bytes and texts stay out of the log; a MsgId may be of any length here.
        log.error(
            "answer could not be settled; dropped",
            exc_info=exc,
            extra={
                "msg_id": answer.msg_id[:_LOGGED_MSG_ID_CHARS],
                "msg_id_chars": len(answer.msg_id),
                "kind": answer.kind,
                "status": answer.status,
            },
        )

    def _take(self, count: int) -> None:
        """The first `count` answers, written, leave the queue and its byte count."""
        self._queued_bytes -= sum(_size(a.payload) for a in self._queue[:count])
        del self._queue[:count]
        if self._overflowing and self._queued_bytes <= self._max_queued_bytes // 2:
            self._overflowing = False
            log.warning("the answers waiting to be written are back under half the limit")


def _size(payload: bytes) -> int:
    return len(payload) + _ANSWER_OVERHEAD
