"""Collects the receiver's answers and settles them in batches, one transaction per batch.

Answers arrive one by one from the transport; while a batch is being written the next one
gathers, so batches grow with the load and an idle gateway settles a lone answer at once. A
batch that fails for a reason other than the database being away is settled answer by answer,
so one answer the database refuses cannot hold up the genuine ones beside it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from paywire.domain.validation import defanged
from paywire.observability.metrics import tls_protocol_anomalies_total
from paywire.pipeline.loop import backoff_s, finish, one_by_one, rest
from paywire.services import pipeline as steps
from paywire.services.ledger import LedgerAdapter
from paywire.store.messages import IncomingAnswer
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
    most `max_queued_bytes` of answers wait; past it one is dropped and counted (`overflow`).
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
        return len(self._queue)

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
                    len(self._queue),
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

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._queue:
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
                if self._stopping.is_set():
                    log.error("settler stopping with %d answers unwritten: %s", self.pending, exc)
                    return
                failures += 1
                delay = backoff_s(failures, self._backoff_max_s)
                log.warning("settling failed, retrying in %.2f s: %s", delay, exc)
                # A stop does not wait the delay out: it tries once more, then gives up.
                await rest(self._stopping, delay)
                continue
            failures = 0

    async def _settle(self, batch: list[IncomingAnswer]) -> None:
        """Settle `batch`, the head of the queue, and take it off the queue; when it fails for a
        reason other than the database, settle its answers one by one instead."""
        try:
            await steps.settle(self._db, batch, self._ledger)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("settling a batch of %d answers failed; settling one by one", len(batch))
        else:
            self._take(len(batch))
            return
        await one_by_one(batch, self._settle_one, self._refuse)

    async def _settle_one(self, answer: IncomingAnswer) -> None:
        # One by one, each answer leaves the queue (whose head it is) as soon as it is settled
        # or refused, so a database failure half-way resumes with the next, not the first.
        await steps.settle(self._db, [answer], self._ledger)
        self._take(1)

    async def _refuse(self, answer: IncomingAnswer, exc: Exception) -> None:
        """Drop an answer that cannot be settled even alone; its payment, if it names one, stays
        TRANSMITTED and is resent, so nothing is settled on an answer paywire did not keep."""
        self._take(1)
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
