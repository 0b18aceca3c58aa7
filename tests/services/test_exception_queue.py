"""The exception queue: opened once per kind and payment, resolved by an ADMIN with a note."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from paywire.domain.exception_kinds import ACK_MISSING, PROCESSING_ERROR
from paywire.domain.roles import Actor, Role
from paywire.domain.statuses import Status
from paywire.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paywire.pipeline.runner import Pipeline
from paywire.services import exception_queue, payments, pipeline
from paywire.services.exception_queue import MarkSettled
from paywire.store import audit
from paywire.store.exception_queue import NewException
from tests.fixtures.metrics import metric
from tests.fixtures.tls import REFUSING_PORT, TLSFiles, gateway_settings
from tests.fixtures.world import COMPOSE, LEASE, World, idle_pipeline, payment_body


@pytest.fixture
def driver(world: World, tls_files: TLSFiles, tmp_path: Path) -> Pipeline:
    settings = gateway_settings(
        tls_files,
        REFUSING_PORT,
        sender_bic="PAYWDEFFXXX",
        receiver_bic="RCVRGB2LXXX",
        log_dir=tmp_path / "logs",
    )
    return idle_pipeline(settings, world.pool, world.ledger)


async def test_open_list_and_resolve(world: World) -> None:
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    item = NewException(PROCESSING_ERROR, payment.id, payment.msg_id, "ACK names another UETR")
    (opened,) = await pipeline.open_exceptions(world.pool, [item])
    assert await pipeline.open_exceptions(world.pool, [item]) == []  # already open
    listed = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    assert [e.id for e in listed] == [opened.id]

    with pytest.raises(PermissionDenied):
        await exception_queue.resolve_exception(world.pool, opened.id, world.checker, "done")
    with pytest.raises(ValidationError):
        await exception_queue.resolve_exception(world.pool, opened.id, world.admin, " ")
    resolved = await exception_queue.resolve_exception(
        world.pool, opened.id, world.admin, "receiver fixed their UETR mapping", request_id="r-9"
    )
    assert (resolved.state, resolved.resolved_by) == ("RESOLVED", "admin")
    assert resolved.as_dict()["note"] == "receiver fixed their UETR mapping"
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
    item = NewException(PROCESSING_ERROR, payment.id, payment.msg_id, "ACK names another UETR")
    (opened,) = await pipeline.open_exceptions(world.pool, [item])

    with pytest.raises(PermissionDenied, match="four eyes"):
        await exception_queue.resolve_exception(world.pool, opened.id, world.allround, "paid")
    resolved = await exception_queue.resolve_exception(world.pool, opened.id, world.admin, "paid")
    assert resolved.state == "RESOLVED"


async def test_an_unanswered_payments_ack_missing_is_not_closed_by_a_note_alone(
    world: World,
) -> None:
    """Its message is sent no more: closed with a note, the payment stayed TRANSMITTED for good,
    its money in clearing, and reconciliation counted the item as accounted for. A note alone
    is refused, nothing is written, and the exception stays open for an action; once the
    payment is settled (the ACK_MISSING of answers that contradict each other) a note does."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    item = NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered")
    (opened,) = await pipeline.open_exceptions(world.pool, [item])

    with pytest.raises(Conflict, match=r'still unanswered: .* "resend", or "mark_settled"'):
        await exception_queue.resolve_exception(world.pool, opened.id, world.admin, "chasing")
    (still,) = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    assert still.id == opened.id
    async with world.pool.acquire() as conn:
        rows = await audit.page(conn, limit=10, entity="exception")
    assert [r["action"] for r in rows] == ["exception.open"]

    completed = await world.drive(await world.create(), Status.COMPLETED)
    contradiction = NewException(
        ACK_MISSING, completed.id, completed.msg_id, "NACK RJCT after the payment was settled"
    )
    (opened,) = await pipeline.open_exceptions(world.pool, [contradiction])
    resolved = await exception_queue.resolve_exception(
        world.pool, opened.id, world.admin, "receiver confirmed the ACK stands"
    )
    assert resolved.state == "RESOLVED"


async def test_a_resolution_that_fails_after_settling_by_hand_counts_nothing(
    world: World, driver: Pipeline
) -> None:
    """mark_settled settles the payment inside the resolution's transaction, which then fails
    (here the database refuses the resolver, a name no operator has) and rolls back all of it.
    The settlement was counted before the commit: `payments_failed_total`, which the
    failure-rate alert reads, went up for a payment still TRANSMITTED, and `exceptions_open`
    counted the uncommitted closing of the payment's ACK_MISSING. Counted once committed,
    the same resolution by an operator counts the NACK once."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    _, foreign = await pipeline.open_exceptions(
        world.pool,
        [
            NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered"),
            NewException(PROCESSING_ERROR, payment.id, payment.msg_id, "a foreign UETR"),
        ],
    )
    failed = metric("payments_failed_total")
    assert metric("exceptions_open") == 2
    nack = MarkSettled("NACK", "call 12", "AC04")
    nobody = Actor("nobody", frozenset({Role.ADMIN}))

    with pytest.raises(asyncpg.ForeignKeyViolationError, match="not by nobody"):
        await exception_queue.resolve_exception(
            world.pool, foreign.id, nobody, "receiver rejected it", nack, driver=driver
        )
    assert (await world.reload(payment)).status is Status.TRANSMITTED
    assert len(await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")) == 2
    assert metric("payments_failed_total") == failed
    assert metric("exceptions_open") == 2

    await exception_queue.resolve_exception(
        world.pool, foreign.id, world.admin, "receiver rejected it", nack, driver=driver
    )
    assert (await world.reload(payment)).status is Status.FAILED
    assert metric("payments_failed_total") == failed + 1
    assert metric("exceptions_open") == 0
