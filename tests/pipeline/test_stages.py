"""A database stage on a real database: a payment that breaks its batch is split off, and a
database in trouble is not blamed on the payments."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg
import pytest

from paywire.domain.statuses import Status
from paywire.pipeline.stages import Quarantine, Stage
from paywire.services import pipeline as steps
from paywire.store.database import create_pool
from paywire.store.tx import Conn
from tests.fixtures.world import ACME, COMPOSE, World


async def test_a_failing_payment_is_quarantined_and_the_rest_of_its_batch_moves(
    world: World,
) -> None:
    good, bad = [await world.drive(await world.create(), Status.APPROVED) for _ in "12"]

    async def screen_and_post(conn: Conn, payment_ids: Sequence[UUID]) -> steps.Outcome:
        if bad.id in payment_ids:
            raise ValueError("a bug that only this payment reaches")
        return await steps.screen_and_post(conn, payment_ids, world.rules, world.ledger, COMPOSE)

    moved: list[steps.Outcome] = []
    quarantine = Quarantine(hold_s=300)
    stage = Stage("screen", world.pool, Status.APPROVED, screen_and_post, quarantine, moved.append)

    assert await stage.step(10) == 2

    assert (await world.reload(good)).status is Status.POSTED
    assert (await world.reload(bad)).status is Status.APPROVED
    assert [o.moved for o in moved] == [{Status.POSTED: [good.id]}]
    assert quarantine.current() == [bad.id]
    rows = await world.pool.fetch("SELECT kind, payment_id, detail FROM exceptions")
    assert [(r["kind"], r["payment_id"]) for r in rows] == [("PROCESSING_ERROR", bad.id)]
    assert "ValueError: a bug that only this payment reaches" in rows[0]["detail"]
    assert await stage.step(10) == 0, "the quarantined payment is left alone"


async def test_a_lock_the_step_cannot_get_is_retried_not_blamed_on_the_payments(
    world: World, gateway_database: str
) -> None:
    """lock_timeout (55P03) while the ledger waits for an account another transaction holds:
    the step fails as the database's trouble, for its loop to retry; no payment is quarantined
    and no PROCESSING_ERROR opened."""
    payment = await world.drive(await world.create(), Status.APPROVED)
    # For connections opened from now on: the stage's, not the lock holder's.
    await world.owner.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lock_timeout = ''20ms''',"
        " current_database()); END $$"
    )
    stage_pool = await create_pool(gateway_database, min_size=1, max_size=2, command_timeout=30)

    async def screen_and_post(conn: Conn, payment_ids: Sequence[UUID]) -> steps.Outcome:
        return await steps.screen_and_post(conn, payment_ids, world.rules, world.ledger, COMPOSE)

    moved: list[steps.Outcome] = []
    quarantine = Quarantine(hold_s=300)
    stage = Stage("screen", stage_pool, Status.APPROVED, screen_and_post, quarantine, moved.append)
    try:
        async with world.pool.acquire() as holder, holder.transaction():
            await holder.execute("SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE", ACME)
            with pytest.raises(asyncpg.LockNotAvailableError):
                await stage.step(10)
        assert quarantine.current() == []
        assert await world.pool.fetchval("SELECT count(*) FROM exceptions") == 0
        assert await stage.step(10) == 1, "once the lock is free, the same payment moves"
    finally:
        await stage_pool.close()
    assert [o.moved for o in moved] == [{Status.POSTED: [payment.id]}]
