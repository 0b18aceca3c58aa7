"""The exception queue: opened once per kind and payment, resolved by an ADMIN with a note."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paywire.domain.exception_kinds import ACK_MISSING
from paywire.domain.statuses import Status
from paywire.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paywire.services import exception_queue, payments, pipeline
from paywire.store import audit
from paywire.store.exception_queue import NewException
from tests.fixtures.world import COMPOSE, LEASE, World, payment_body


async def test_open_list_and_resolve(world: World) -> None:
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    item = NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered")
    (opened,) = await pipeline.open_exceptions(world.pool, [item])
    assert await pipeline.open_exceptions(world.pool, [item]) == []  # already open
    listed = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    assert [e.id for e in listed] == [opened.id]

    with pytest.raises(PermissionDenied):
        await exception_queue.resolve_exception(world.pool, opened.id, world.checker, "done")
    with pytest.raises(ValidationError):
        await exception_queue.resolve_exception(world.pool, opened.id, world.admin, " ")
    resolved = await exception_queue.resolve_exception(
        world.pool, opened.id, world.admin, "receiver confirmed by phone", request_id="r-9"
    )
    assert (resolved.state, resolved.resolved_by) == ("RESOLVED", "admin")
    assert resolved.as_dict()["note"] == "receiver confirmed by phone"
    with pytest.raises(Conflict, match="RESOLVED"):
        await exception_queue.resolve_exception(world.pool, opened.id, world.admin, "again")
    with pytest.raises(NotFound):
        await exception_queue.resolve_exception(world.pool, 10**9, world.admin, "none")
    assert await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN") == []
    async with world.pool.acquire() as conn:
        rows = await audit.page(conn, limit=10, entity="exception")
    assert [r["action"] for r in rows] == ["exception.resolve", "exception.open"]
    assert rows[0]["request_id"] == "r-9"


@pytest.mark.parametrize("role_in_the_payment", ["initiator", "approver"])
async def test_the_initiator_or_approver_of_a_payment_may_not_resolve_its_exceptions(
    world: World, role_in_the_payment: str
) -> None:
    """`allround` holds every role, ADMIN included: having made or approved the payment, it
    could otherwise settle it by hand (fail it, crediting the debtor back, or complete it) or
    close its ledger mismatch alone."""
    maker = world.allround if role_in_the_payment == "initiator" else world.maker
    checker = world.allround if role_in_the_payment == "approver" else world.checker
    created = await payments.create_payment(world.pool, payment_body(), maker)
    payment = await payments.approve(world.pool, created.payment.id, checker)
    await pipeline.screen_and_post(world.pool, [payment.id], world.rules, world.ledger, COMPOSE)
    await pipeline.transmit(world.pool, [payment.id], at=datetime.now(UTC), lease=LEASE, by="t")
    item = NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered")
    (opened,) = await pipeline.open_exceptions(world.pool, [item])

    with pytest.raises(PermissionDenied, match="four eyes"):
        await exception_queue.resolve_exception(world.pool, opened.id, world.allround, "paid")
    resolved = await exception_queue.resolve_exception(world.pool, opened.id, world.admin, "paid")
    assert resolved.state == "RESOLVED"
