"""A message due for a resend goes out before a backlog of fresh payments.

Found by the chaos runs: after a SIGKILL, the restarted gateway claimed fresh POSTED payments
first, so what the dead process had in flight waited for the whole backlog, past its answer
window, and reconciliation opened ACK_MISSING on payments that were merely queued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paywire.domain.statuses import Status
from paywire.services import pipeline
from tests.fixtures.bulk import add_rich_debtor, approve_many
from tests.fixtures.gateway import StartGateway
from tests.fixtures.world import COMPOSE, World

BACKLOG = 40


async def test_a_due_resend_is_sent_before_fresh_payments(
    world: World, start_gateway: StartGateway
) -> None:
    # A message whose sender died: transmitted once, its lease already run out.
    lost = await world.drive(await world.create(amount="10.00"), Status.POSTED)
    await pipeline.transmit(
        world.pool, [lost.id], at=datetime.now(UTC), lease=timedelta(0), by="dead:1:gateway"
    )
    await add_rich_debtor(world.pool)
    backlog = await approve_many(world, ["1.00"] * BACKLOG)
    await pipeline.screen_and_post(world.pool, backlog, world.rules, world.ledger, COMPOSE)
    # One message in flight at a time: the order of sending is the order of claiming.
    gateway = await start_gateway(pool_size=1, max_inflight=1)
    await gateway.wait_for([lost.id, *backlog])
    sent = await world.pool.fetch(
        "SELECT payment_id, last_sent_at FROM messages ORDER BY last_sent_at, payment_id"
    )
    order = [row["payment_id"] for row in sent]
    # A backlog of POSTED payments waited from the start; the resend still went out first.
    assert order.index(lost.id) == 0, f"resent after {order.index(lost.id)} fresh payments"
