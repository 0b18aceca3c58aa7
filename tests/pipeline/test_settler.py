"""The settler on a real database: batches, and an answer that poisons its batch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest

from paywire.domain.payment import Payment
from paywire.domain.statuses import Status
from paywire.pipeline import settler as settler_module
from paywire.pipeline.settler import Settler
from paywire.store.database import create_pool
from paywire.store.tx import Pool
from paywire.wire import Answer, build_pacs002, parse_answer
from tests.fixtures.lost_commit import commit_cutter
from tests.fixtures.metrics import metric
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import World

# A MsgId over the b-tree row limit of the indexes on answers and exceptions (random, as
# PostgreSQL compresses index entries: 8,000 repeated characters would fit).
POISON = secrets.token_hex(4000)


@dataclass(frozen=True)
class Unchecked:
    """What `Settler.add` reads from an `Answer`, for one the wire core refuses to make: the
    settler must not rely on the parser to keep poison out."""

    msg_id: str
    kind: str = "ACK"
    status: str = "ACSP"
    uetr: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    payload: bytes = b"<answer/>"


def wire_answer(payment: Payment, status: str) -> Answer:
    """The receiver's answer to `payment`'s message, read as the connection reads it; its UETR
    in upper case, which settles like the lower case paywire wrote."""
    uetr = str(payment.uetr)
    document = build_pacs002(
        msg_id="PWR1",
        created_at=datetime.datetime.now(datetime.UTC),
        original_msg_id=payment.msg_id,
        original_uetr=uetr,
        status=status,
        reason_code="AC04" if status == "RJCT" else None,
    )
    return parse_answer(document.replace(uetr.encode(), uetr.upper().encode()))


async def settle(world: World, answers: list[Any]) -> Settler:
    """Queue `answers` before the settler starts, so they make one batch; wait until written."""
    settler = Settler(world.pool, world.ledger, backoff_max_s=0.01)
    for answer in answers:
        settler.add(answer)
    settler.start()
    await settler.drain()
    await settler.stop()
    return settler


async def stored(world: World, payment: Payment) -> list[str]:
    rows = await world.pool.fetch(
        "SELECT kind FROM answers WHERE payment_id = $1 ORDER BY id", payment.id
    )
    return [row["kind"] for row in rows]


async def test_a_poisonous_answer_does_not_take_its_batch_down(world: World) -> None:
    acked, nacked = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in "12"]
    unsettleable = metric("tls_protocol_anomalies_total", kind="unsettleable")
    poison = Unchecked(msg_id=POISON)

    settler = await settle(world, [wire_answer(acked, "ACSP"), poison, wire_answer(nacked, "RJCT")])

    assert (await world.reload(acked)).status is Status.COMPLETED
    assert (await world.reload(nacked)).status is Status.FAILED
    assert await stored(world, acked) == ["ACK"]
    assert await stored(world, nacked) == ["NACK"]
    assert await world.pool.fetchval("SELECT count(*) FROM answers") == 2
    assert metric("tls_protocol_anomalies_total", kind="unsettleable") == unsettleable + 1
    assert settler.pending == 0


async def cut_off_while_it_waits(pool: Pool, settling: Coroutine[Any, Any, Any]) -> Any:
    """Run `settling` while the answers table is locked; once its connection waits for the
    lock, the database ends that connection (pg_terminate_backend), as a restart would."""
    task = None
    try:
        async with pool.acquire() as holder, holder.transaction():
            await holder.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")
            task = asyncio.create_task(settling)
            await poll(lambda: lock_waiters(pool), what="the settling waiting for the lock")
            pid = await pool.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            assert await pool.fetchval("SELECT pg_terminate_backend($1)", pid)
            # Gone before the lock is: it cannot go on with the statement it waited to run.
            await poll(
                lambda: pool.fetchval(
                    "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid
                ),
                what=f"backend {pid} gone",
            )
        return await task
    finally:
        if task is None:
            settling.close()
        else:
            task.cancel()


async def test_a_database_failure_one_by_one_resumes_with_the_next_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in "12"]
    real_settle = settler_module.steps.settle
    calls: list[int] = []

    async def cut_at_the_poison(db: Any, answers: Any, ledger: Any, **kw: Any) -> Any:
        calls.append(len(answers))
        if calls == [3, 1, 1]:  # the batch, the first alone, then the poison alone
            settling = real_settle(db, answers, ledger, **kw)
            return await cut_off_while_it_waits(world.owner, settling)
        return await real_settle(db, answers, ledger, **kw)

    monkeypatch.setattr(settler_module.steps, "settle", cut_at_the_poison)
    poison = Unchecked(msg_id=POISON)

    await settle(world, [wire_answer(first, "ACSP"), poison, wire_answer(second, "ACSP")])

    assert calls[3] == 2, "after the failure: the two answers not yet settled, not the first"
    assert await stored(world, first) == ["ACK"], "settled once, stored once"
    assert await stored(world, second) == ["ACK"]
    assert (await world.reload(second)).status is Status.COMPLETED


@pytest.mark.parametrize("held", [False, True], ids=["retried", "retried-after-waiting-aside"])
async def test_a_batch_whose_commit_reply_was_lost_is_stored_and_counted_once(
    world: World, gateway_database: str, held: bool
) -> None:
    """The batch committed, and the connection went before the COMMIT's reply came back (a
    failover, a NAT timeout): the settler, told only that the database went, settles the same
    answers again. They must not be stored twice (the answers are kept as received: an orphan
    twice reads as two answers to the reconciliation), nor go uncounted: the settlement its
    retry finds made is counted, once. `held`: another transaction holds the first payment
    when the retry comes, so its answer waits aside, and is still looked for when it settles."""
    acked, nacked = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in "12"]
    completed, failed = metric("payments_completed_total"), metric("payments_failed_total")
    async with commit_cutter(gateway_database) as (cutter, dsn):
        settler_pool, settler = await settler_of_its_own(world, dsn)
        try:
            cutter.arm()
            for answer in (wire_answer(acked, "ACSP"), wire_answer(nacked, "RJCT")):
                settler.add(answer)
            settler.start()
            await asyncio.wait_for(cutter.cut.wait(), 10)
            async with world.owner.acquire() as holder, holder.transaction():
                if held:
                    await holder.execute(
                        "SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", acked.id
                    )
                cutter.resume()
                if held:
                    await poll(lambda: settler.pending == 1, what="the held answer aside")
                    assert await stored(world, acked) == ["ACK"]
            await asyncio.wait_for(settler.drain(), 10)
        finally:
            await settler.stop()
            await settler_pool.close()
    assert cutter.cuts == 1
    assert (await world.reload(acked)).status is Status.COMPLETED
    assert (await world.reload(nacked)).status is Status.FAILED
    assert (await stored(world, acked), await stored(world, nacked)) == (["ACK"], ["NACK"])
    counted = (
        metric("payments_completed_total") - completed,
        metric("payments_failed_total") - failed,
    )
    assert counted == (1, 1)


async def for_new_connections(world: World, setting: str) -> None:
    """`setting` (`name = value`) for the connections opened from now on: the settler's own
    pool's, not a lock holder's."""
    quoted = setting.replace("'", "''")  # inside the format string's own quotes
    await world.owner.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET " + quoted + "', current_database());"
        " END $$"
    )


async def settler_of_its_own(world: World, dsn: str) -> tuple[Pool, Settler]:
    """A settler on a pool of one connection of its own, retrying within 50 ms."""
    pool = await create_pool(dsn, min_size=1, max_size=1, command_timeout=30)
    return pool, Settler(pool, world.ledger, backoff_max_s=0.05)


def failed_settlings(caplog: pytest.LogCaptureFixture, at_least: int) -> Callable[[], bool]:
    """Whether the settler has logged `at_least` failed settlings (retried, not dropped)."""

    def logged() -> bool:
        failed = [r for r in caplog.records if "settling failed" in r.getMessage()]
        return len(failed) >= at_least

    return logged


@contextlib.asynccontextmanager
async def audit_head_held(world: World) -> AsyncIterator[None]:
    """The audit chain's head locked by another transaction while the block runs: a lock every
    settling takes last, and waits for."""
    async with world.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM audit_chain FOR UPDATE")
        yield


async def test_an_answer_waits_out_a_lock_it_cannot_get_and_then_settles(
    world: World, gateway_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """lock_timeout (55P03) is the database's trouble, not the answer's: the settler retries the
    answer until the lock (here the audit chain's head) is free, where it used to settle it
    alone, fail again and drop it."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await for_new_connections(world, "lock_timeout = '20ms'")
    settler_pool, settler = await settler_of_its_own(world, gateway_database)
    unsettleable = metric("tls_protocol_anomalies_total", kind="unsettleable")
    try:
        async with audit_head_held(world):
            with caplog.at_level(logging.WARNING, logger="paywire.pipeline.settler"):
                settler.add(wire_answer(payment, "ACSP"))
                settler.start()

                await poll(failed_settlings(caplog, 2), what="two failed settlings logged")
        await asyncio.wait_for(settler.drain(), 10)
    finally:
        await settler.stop()
        await settler_pool.close()

    assert (await world.reload(payment)).status is Status.COMPLETED
    assert await stored(world, payment) == ["ACK"]
    assert metric("tls_protocol_anomalies_total", kind="unsettleable") == unsettleable


async def test_a_stop_keeps_retrying_a_failed_write_until_its_deadline(
    world: World, gateway_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop gives the answers received what is left of its deadline. A write that failed
    for the database's trouble (here a lock it cannot get) once the stop had begun ended the
    settler there and then, its answers unwritten however much of the deadline was left."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await for_new_connections(world, "lock_timeout = '20ms'")
    settler_pool, settler = await settler_of_its_own(world, gateway_database)
    try:
        async with audit_head_held(world):
            with caplog.at_level(logging.WARNING, logger="paywire.pipeline.settler"):
                settler.add(wire_answer(payment, "ACSP"))
                settler.start()
                stopping = asyncio.ensure_future(settler.stop(within_s=30))

                await poll(failed_settlings(caplog, 3), what="writes failing during the stop")
        await asyncio.wait_for(stopping, 10)
    finally:
        await settler.stop()
        await settler_pool.close()

    assert (await world.reload(payment)).status is Status.COMPLETED
    assert settler.pending == 0


async def test_answers_wait_out_a_database_that_refuses_writes(
    world: World, gateway_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failover that leaves the gateway on a read-only standby fails every answer (25006)
    as it fails the batch: the database's trouble, not the answers'. They were settled one by
    one, failed alone and dropped (a message on its last attempt then ended ACK_MISSING,
    its ACK thrown away); they wait, and settle once a writable server is back."""
    payments = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in range(3)]
    await for_new_connections(world, "default_transaction_read_only = on")
    settler_pool, settler = await settler_of_its_own(world, gateway_database)
    backend = await settler_pool.fetchval("SELECT pg_backend_pid()")
    unsettleable = metric("tls_protocol_anomalies_total", kind="unsettleable")
    try:
        with caplog.at_level(logging.WARNING, logger="paywire.pipeline.settler"):
            for payment in payments:
                settler.add(wire_answer(payment, "ACSP"))
            settler.start()

            await poll(failed_settlings(caplog, 2), what="two failed settlings logged")
        # The primary is back: the standby's connection ends, the next one may write.
        await for_new_connections(world, "default_transaction_read_only = off")
        assert await world.owner.fetchval("SELECT pg_terminate_backend($1)", backend)
        await asyncio.wait_for(settler.drain(), 10)
    finally:
        await settler.stop()
        await settler_pool.close()

    for payment in payments:
        assert (await world.reload(payment)).status is Status.COMPLETED
    assert metric("tls_protocol_anomalies_total", kind="unsettleable") == unsettleable


async def test_answers_to_a_payment_held_elsewhere_wait_aside_and_keep_their_order(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One payment locked by another transaction (a DBA's, left open) must not hold up the
    answers behind its own: they settle, and its ACK waits aside. A NACK arriving once the lock
    is gone, before the ACK is tried again, must not settle ahead of it: the ACK came first
    and settles; the NACK contradicts it. The log says how long they have waited, and where."""
    held, other = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in range(2)]
    monkeypatch.setattr(settler_module, "HELD_WARN_S", 0.0)
    # The retry well after the NACK is settled or set aside, however slow the machine.
    monkeypatch.setattr(settler_module, "HELD_RETRY_S", 2.0)
    settler = Settler(world.pool, world.ledger)
    try:
        async with world.owner.acquire() as holder, holder.transaction():
            await holder.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", held.id)
            with caplog.at_level(logging.WARNING, logger="paywire.pipeline.settler"):
                settler.add(wire_answer(held, "ACSP"))
                settler.add(wire_answer(other, "ACSP"))
                settler.start()
                await poll(lambda: settler.pending == 1, what="the other answer settled")
            assert (await world.reload(other)).status is Status.COMPLETED
            assert (await world.reload(held)).status is Status.TRANSMITTED
            assert await stored(world, held) == []
        settler.add(wire_answer(held, "RJCT"))
        await asyncio.wait_for(settler.drain(), 10)
    finally:
        await settler.stop()
    assert (await world.reload(held)).status is Status.COMPLETED
    assert await stored(world, held) == ["ACK", "NACK"]
    kinds = await world.pool.fetch(
        "SELECT kind FROM exceptions WHERE payment_id = $1 AND state = 'OPEN'", held.id
    )
    assert [row["kind"] for row in kinds] == ["ACK_MISSING"], "the NACK contradicts the ACK"
    (warning,) = {r.getMessage() for r in caplog.records if "another transaction" in r.getMessage()}
    assert warning.startswith("answers to 1 messages have waited ")
    assert "pg_stat_activity" in warning


async def test_answers_past_the_queue_limit_are_dropped_and_counted(world: World) -> None:
    """A flood (or a database away for long) cannot grow the queue past its bytes; what is
    dropped stays unanswered in the database, to be resent."""
    payments = [await world.drive(await world.create(), Status.TRANSMITTED) for _ in range(3)]
    answers = [wire_answer(p, "ACSP") for p in payments]
    room = sum(settler_module._size(a.payload) for a in answers[:2])
    before = metric("tls_protocol_anomalies_total", kind="overflow")
    settler = Settler(world.pool, world.ledger, max_queued_bytes=room)
    for answer in answers:
        settler.add(answer)
    assert settler.pending == 2
    assert metric("tls_protocol_anomalies_total", kind="overflow") == before + 1
    settler.start()
    await settler.drain()
    await settler.stop()
    statuses = [(await world.reload(p)).status for p in payments]
    assert statuses == [Status.COMPLETED, Status.COMPLETED, Status.TRANSMITTED]


async def test_a_reason_cannot_draw_lines_in_the_operators_terminal(world: World) -> None:
    """A line break and a right-to-left override in a NACK's text, as the receiver may send
    them (XML character references), are kept as U+FFFD: the NACK still fails its payment."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    document = build_pacs002(
        msg_id="PWR1",
        created_at=datetime.datetime.now(datetime.UTC),
        original_msg_id=payment.msg_id,
        original_uetr=str(payment.uetr),
        status="RJCT",
        reason_code="AC04",
        reason_text="closed",
    ).replace(b"closed", b"closed&#10;status   COMPLETED&#x202E;x")
    await settle(world, [parse_answer(document)])
    failed = await world.reload(payment)
    assert failed.status is Status.FAILED
    assert failed.reason is not None
    assert failed.reason.text == "closed\ufffdstatus   COMPLETED\ufffdx"


async def test_an_orphans_msg_id_cannot_reorder_the_operators_lines(world: World) -> None:
    """An answer naming no message of ours, its MsgId holding a right-to-left override and a
    line separator: kept as an orphan, with those characters as U+FFFD."""
    document = build_pacs002(
        msg_id="PWR2",
        created_at=datetime.datetime.now(datetime.UTC),
        original_msg_id="\u202eLIAF-0001\u2028x",
        original_uetr=None,
        status="ACSP",
    )
    await settle(world, [parse_answer(document)])
    stored = await world.pool.fetchval("SELECT msg_id FROM answers WHERE payment_id IS NULL")
    opened = await world.pool.fetchval("SELECT msg_id FROM exceptions WHERE kind = 'ORPHAN_ACK'")
    assert stored == opened == "\ufffdLIAF-0001\ufffdx"


async def test_an_answer_after_the_stop_is_said_to_be_lost_not_queued_for_nobody(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Between the drain's settler stop and the pool's close, answers still arrive; nobody
    would write them. They are not queued, and the log says so once."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    settler = Settler(world.pool, world.ledger)
    settler.start()
    await settler.stop()
    with caplog.at_level(logging.WARNING, logger="paywire.pipeline.settler"):
        settler.add(wire_answer(payment, "ACSP"))
        settler.add(wire_answer(payment, "ACSP"))
    assert settler.pending == 0
    late = [r for r in caplog.records if "after the settler stopped" in r.getMessage()]
    assert len(late) == 1
    assert (await world.reload(payment)).status is Status.TRANSMITTED
