"""A database stage on a real database: a payment that breaks its batch is split off."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from paywire.domain.statuses import Status
from paywire.pipeline.stages import Quarantine, Stage
from paywire.services import pipeline as steps
from paywire.store.tx import Conn
from tests.fixtures.world import COMPOSE, World


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
