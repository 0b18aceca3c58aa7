"""Reconciliation of a running pipeline and a real receiver: silence and orphans found by the
report, the exception queue worked with resend and mark_settled, the housekeeping sweep keeping
the gauges current."""

from __future__ import annotations

import json
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from paywire.config import load_settings
from paywire.domain.statuses import Status
from paywire.observability.metrics import reconciliation_unmatched_items
from paywire.pipeline.housekeeping import Housekeeping
from paywire.receiver import Faults
from paywire.services import exception_queue, reconciliation
from paywire.services.exception_queue import MarkSettled, Resend
from tests.fixtures.gateway import StartGateway
from tests.fixtures.metrics import metric
from tests.fixtures.waiting import poll
from tests.fixtures.world import World

WINDOW = timedelta(seconds=0.6)  # ack_timeout_s times (max_attempts + 1), as set below


async def daily_items(world: World) -> list[dict[str, Any]]:
    """The unmatched items of every day (UTC) a payment was stored on or an orphan answer
    received on, one day's after the other's: those days as stored, not as the clock reads
    now, which is past midnight if the test ran across it."""
    stamps = await world.pool.fetch(
        "SELECT created_at AS at FROM payments"
        " UNION ALL SELECT received_at FROM answers WHERE payment_id IS NULL"
    )
    items: list[dict[str, Any]] = []
    for day in sorted({r["at"].astimezone(UTC).date() for r in stamps}):
        items += await day_items(world, day)
    return items


async def day_items(world: World, day: date) -> list[dict[str, Any]]:
    async with reconciliation.daily(world.pool, day, answer_window=WINDOW) as report:
        items: list[dict[str, Any]] = json.loads(b"".join([c async for c in report.json()]))[
            "unmatched"
        ]
    return items


async def test_silence_is_reconciled_resent_then_settled_by_hand(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(
        faults=Faults(no_answer_rate=1.0), ack_timeout_s=0.2, max_attempts=2
    )
    payment = await world.drive(await world.create(amount="10.00"), Status.APPROVED)
    gateway.pipeline.wake()
    opened = await gateway.row(
        "SELECT id FROM exceptions WHERE payment_id = $1 AND kind = 'ACK_MISSING'"
        " AND state = 'OPEN'",
        payment.id,
    )
    (item,) = await daily_items(world)
    assert (item["category"], item["payment_id"]) == ("MISSING_ACK", str(payment.id))
    assert item["exception_id"] == opened["id"]

    await exception_queue.resolve_exception(
        world.pool, opened["id"], world.admin, "receiver restarted", Resend(),
        driver=gateway.pipeline,
    )  # fmt: skip
    gateway.pipeline.wake()
    # The third transmission goes unanswered too: the pipeline opens a new exception.
    reopened = await gateway.row(
        "SELECT id FROM exceptions WHERE payment_id = $1 AND state = 'OPEN'", payment.id
    )
    assert reopened["id"] != opened["id"]
    assert gateway.receiver.stats.received == 3
    (item,) = await daily_items(world)
    assert item["exception_id"] == reopened["id"]

    await exception_queue.resolve_exception(
        world.pool, reopened["id"], world.admin, "confirmed by the receiver's desk",
        MarkSettled("ACK", "desk ref 991"), driver=gateway.pipeline,
    )  # fmt: skip
    assert (await gateway.statuses([payment.id]))[payment.id] == "COMPLETED"
    assert await daily_items(world) == []


async def test_the_housekeeping_sweep_keeps_the_gauges_current(
    world: World, start_gateway: StartGateway, tmp_path: Path
) -> None:
    gateway = await start_gateway(faults=Faults(orphan_rate=1.0))
    ids = [
        (await world.drive(await world.create(amount="3.00"), Status.APPROVED)).id for _ in range(3)
    ]
    gateway.pipeline.wake()
    await gateway.wait_for(ids)
    await poll(
        lambda: world.pool.fetchval("SELECT count(*) FROM answers WHERE payment_id IS NULL"),
        30,
        what="an orphan answer stored",
    )
    settings = load_settings(environ={}, log_dir=tmp_path, ack_timeout_s=0.2, max_attempts=2)
    reconciliation_unmatched_items.set(-1)  # not a count: whatever a sweep sets differs
    housekeeping = Housekeeping(settings, world.pool, sweep_every_s=0.05)
    housekeeping.start()
    try:

        async def swept() -> bool:
            unmatched = metric("reconciliation_unmatched_items")
            return unmatched == await world.pool.fetchval(
                "SELECT count(DISTINCT msg_id) FROM answers WHERE payment_id IS NULL"
            )

        await poll(swept, 30, what="the gauge set by a sweep")
        assert metric("exceptions_open") == await world.pool.fetchval(
            "SELECT count(*) FROM exceptions WHERE state = 'OPEN'"
        )
        categories = {i["category"] for i in await daily_items(world)}
        assert categories == {"ORPHAN_ACK"}
        await poll(
            lambda: world.pool.fetchval(
                "SELECT count(*) FROM audit_logs WHERE action = 'retention.run'"
            ),
            30,
            what="a retention run audited",
        )
    finally:
        await housekeeping.stop()
