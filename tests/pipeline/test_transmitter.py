"""The transmitter's claim: what its leases count from, and what happens when one ends first,
the last one's included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paywire.config import Settings
from paywire.domain.statuses import Status
from paywire.pipeline.recovery import AckMissing
from paywire.pipeline.transmitter import Transmitter
from paywire.services import pipeline
from paywire.store.database import create_pool
from paywire.transport import ConnectionPool
from tests.fixtures.tls import REFUSING_PORT, StartReceiver, TLSFiles, gateway_settings
from tests.fixtures.waiting import poll
from tests.fixtures.world import World, idle_pipeline

ZERO = timedelta(0)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HeldStep:
    """A transmit step under way, waiting for its one database connection, which the test
    holds until it calls `release`."""

    step: asyncio.Task[int]
    pool: ConnectionPool
    release: Callable[[], Awaitable[None]]


@asynccontextmanager
async def held_step(
    database: str, settings: Settings, *, ack_timeout_s: float
) -> AsyncIterator[HeldStep]:
    pool = ConnectionPool(settings)
    db = await create_pool(database, min_size=1, max_size=1, command_timeout=30)
    transmitter = Transmitter(
        db,
        pool,
        lambda _: None,
        instance="t",
        window=10,
        ack_timeout_s=ack_timeout_s,
        max_attempts=5,
        wake=lambda: None,
    )
    try:
        await pool.start()
        held = await db.acquire()
        step = asyncio.create_task(transmitter.step(10))
        await asyncio.sleep(0)  # the step has seen a connection with room, and waits for its own
        assert not step.done()
        yield HeldStep(step, pool, lambda: db.release(held))
    finally:
        await pool.close(deadline_s=0)
        await db.close()


async def test_a_lease_runs_from_when_the_claim_has_its_connection(
    world: World, gateway_database: str, start_receiver: StartReceiver, tls_files: TLSFiles
) -> None:
    """Its one database connection busy, the step waits for it; the message's lease (and its
    first send) must not count that wait, or a message is due again, or given up, sooner than
    PAYWIRE_ACK_TIMEOUT_S after it went out."""
    payment = await world.drive(await world.create(), Status.POSTED)
    receiver = await start_receiver()
    settings = gateway_settings(tls_files, receiver.port, pool_size=1)
    async with held_step(gateway_database, settings, ack_timeout_s=30) as held:
        released_at = datetime.now(UTC)
        await held.release()
        assert await held.step == 1
    first_sent_at = await world.pool.fetchval(
        "SELECT first_sent_at FROM messages WHERE payment_id = $1", payment.id
    )
    assert first_sent_at >= released_at


async def test_a_claim_still_unsent_when_its_lease_ends_is_given_back(
    world: World, gateway_database: str, start_receiver: StartReceiver, tls_files: TLSFiles
) -> None:
    """The connection lost between the claim and the send, and not back before the lease ends:
    the message must not wait on in the pool, where another process could resend it meanwhile,
    or its attempts run out while it never left. It is given back, unsent and due. (The breaker
    would refuse it too once it opens; it is kept closed here.)"""
    payment = await world.drive(await world.create(), Status.POSTED)
    receiver = await start_receiver()
    settings = gateway_settings(tls_files, receiver.port, pool_size=1, cb_failure_threshold=1000)
    async with held_step(gateway_database, settings, ack_timeout_s=0.5) as held:
        await receiver.stop()
        await poll(lambda: held.pool.open_connections == 0, what="the connection lost")
        await held.release()
        assert await asyncio.wait_for(held.step, timeout=10) == 1
    message = await world.pool.fetchrow(
        "SELECT attempts, first_sent_at, next_attempt_at <= now() AS due FROM messages"
        " WHERE payment_id = $1",
        payment.id,
    )
    assert dict(message) == {"attempts": 0, "first_sent_at": None, "due": True}
    assert receiver.stats.received == 0


async def test_a_last_transmission_is_given_up_an_answer_timeout_after_its_lease_ends(
    world: World,
) -> None:
    """The lease runs from the claim, but the pool may queue the message up to almost an answer
    timeout later and then waits a whole timeout from the write: given up when its lease ended,
    a last transmission still awaited had an ACK_MISSING opened, which its answer closed."""
    awaited = await world.drive(await world.create(), Status.POSTED)
    silent = await world.drive(await world.create(), Status.POSTED)
    now = datetime.now(UTC)
    for payment, claimed_at in ((awaited, now - timedelta(seconds=20)), (silent, now - HOUR)):
        await pipeline.transmit(world.pool, [payment.id], at=claimed_at, lease=ZERO, by="t")
    sweep = AckMissing(world.pool, max_attempts=1, answer_wait=timedelta(seconds=60))
    assert await sweep.step(10) == 1
    opened = await world.pool.fetch("SELECT payment_id FROM exceptions WHERE kind = 'ACK_MISSING'")
    assert [row["payment_id"] for row in opened] == [silent.id]


async def test_the_running_pipeline_waits_its_answer_timeout_before_giving_up(
    world: World, tls_files: TLSFiles, tmp_path: Path
) -> None:
    """The rule above as `serve` wires it: the sweep's wait is PAYWIRE_ACK_TIMEOUT_S."""
    awaited = await world.drive(await world.create(), Status.POSTED)
    silent = await world.drive(await world.create(), Status.POSTED)
    now = datetime.now(UTC)
    for payment, claimed_at in ((awaited, now - timedelta(seconds=20)), (silent, now - HOUR)):
        await pipeline.transmit(world.pool, [payment.id], at=claimed_at, lease=ZERO, by="t")
    settings = gateway_settings(
        tls_files,
        REFUSING_PORT,
        sender_bic="PAYWDEFFXXX",
        receiver_bic="RCVRGB2LXXX",
        ack_timeout_s=60,
        max_attempts=1,
        log_dir=tmp_path / "logs",
    )
    running = idle_pipeline(settings, world.pool, world.ledger)
    running.start()
    try:
        opened = await poll(
            lambda: world.pool.fetch(
                "SELECT payment_id FROM exceptions WHERE kind = 'ACK_MISSING'"
            ),
            what="the sweep's ACK_MISSING",
        )
    finally:
        await running.drain(1)
    assert [row["payment_id"] for row in opened] == [silent.id]
