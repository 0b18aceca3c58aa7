"""Creation, idempotency, approval under four eyes and concurrency, reject, cancel."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from paywire.domain.roles import Role
from paywire.domain.statuses import Status
from paywire.domain.validation import parse_payment
from paywire.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paywire.observability.metrics import payments_approved_total, payments_initiated_total
from paywire.services import payments
from paywire.store import audit
from paywire.store import payments as payment_store
from tests.fixtures.world import ACME, YANKEE, World, add_operator, payment_body


async def test_creation_stores_an_initiated_payment_with_history_and_audit(world: World) -> None:
    before = payments_initiated_total._value.get()
    created = await payments.create_payment(
        world.pool, payment_body(), world.maker, request_id="req-create"
    )
    payment = created.payment
    assert created.created
    assert payment.status is Status.INITIATED
    assert payment.reference.startswith("PW-")
    assert payment.msg_id == "PWM" + payment.reference[3:].replace("-", "")
    assert payment.created_by == "maker"
    detail = await payments.get_payment(world.pool, payment.id)
    assert [(h.status, h.by) for h in detail.history] == [(Status.INITIATED, "maker")]
    assert detail.message is None
    assert detail.as_dict()["amount"] == "1250.00"
    async with world.pool.acquire() as conn:
        (row,) = await audit.page(conn, limit=10, entity_id=str(payment.id))
    assert (row["action"], row["operator"], row["request_id"]) == (
        "payment.create",
        "maker",
        "req-create",
    )
    assert row["after"]["reference"] == payment.reference
    assert payments_initiated_total._value.get() == before + 1


async def test_a_reference_carries_the_day_of_the_creation_time_stored(world: World) -> None:
    """Entered a moment before midnight (UTC): the reference and the msg_id name the day of
    created_at, by which reconciliation files the payment, whatever the database's clock says
    by the time the row is written."""
    at = datetime(2026, 11, 26, 23, 59, 59, 999_000, tzinfo=UTC)
    new = parse_payment(payment_body(value_date="2026-11-26"), today=at.date())
    async with world.pool.acquire() as conn:
        payment = await payment_store.insert(conn, new, "maker", at)
    assert payment.created_at == at
    assert payment.reference.startswith("PW-20261126-")
    assert payment.msg_id.startswith("PWM20261126")


async def test_references_msg_ids_and_uetrs_are_unique(world: World) -> None:
    made = [await world.create(amount=f"{n}.00") for n in range(1, 21)]
    for attribute in ("reference", "msg_id", "uetr"):
        assert len({getattr(p, attribute) for p in made}) == len(made)


async def test_only_makers_create(world: World) -> None:
    with pytest.raises(PermissionDenied, match="MAKER"):
        await payments.create_payment(world.pool, payment_body(), world.checker)


@pytest.mark.parametrize(
    ("debtor_account", "currency", "message"),
    [
        ("DE02120300000000202051", "EUR", "not a ledger account"),
        (ACME, "USD", "held in EUR"),
        (YANKEE, "EUR", "held in USD"),
    ],
)
async def test_the_debtor_must_be_a_ledger_account_in_the_currency(
    world: World, debtor_account: str, currency: str, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await world.create(currency=currency, debtor={"name": "X", "account": debtor_account})
    (detail,) = raised.value.details
    assert detail["field"] == "debtor.account"
    assert message in detail["message"]


async def test_same_key_and_body_replay_the_original(world: World) -> None:
    first = await payments.create_payment(
        world.pool, payment_body(), world.maker, idempotency_key="k1"
    )
    reordered = dict(reversed(list(payment_body().items())))
    again = await payments.create_payment(world.pool, reordered, world.maker, idempotency_key="k1")
    assert first.created
    assert not again.created
    assert again.payment.id == first.payment.id


async def test_a_replay_after_the_value_date_has_passed_returns_the_original(
    world: World,
) -> None:
    today = date(2026, 11, 26)
    dated = payment_body(value_date=today.isoformat())
    first = await payments.create_payment(
        world.pool, dated, world.maker, idempotency_key="k1", today=today
    )
    again = await payments.create_payment(
        world.pool, dated, world.maker, idempotency_key="k1", today=today + timedelta(days=1)
    )
    assert (again.created, again.payment.id) == (False, first.payment.id)
    with pytest.raises(ValidationError, match="invalid payment"):
        await payments.create_payment(
            world.pool, dated, world.maker, idempotency_key="k2", today=today + timedelta(days=1)
        )


async def test_a_payment_whose_value_date_has_passed_is_not_approved(world: World) -> None:
    """Entered on a Friday for that Friday and approved on the Monday, it would go to the
    receiver with a settlement date in the past. Refused, it stays INITIATED, and a batch with
    it approves none; the checker rejects it and the maker enters it again."""
    friday = datetime.now(UTC).date() - timedelta(days=3)
    stale = await payments.create_payment(
        world.pool, payment_body(value_date=friday.isoformat()), world.maker, today=friday
    )
    fresh = await world.create()
    with pytest.raises(Conflict, match=rf"value date {friday}, which has passed.*reject or cancel"):
        await payments.approve(world.pool, stale.payment.id, world.checker)
    with pytest.raises(Conflict, match="has passed"):
        await payments.approve_many(world.pool, [fresh.id, stale.payment.id], world.checker)
    for payment_id in (stale.payment.id, fresh.id):
        assert (await payments.get_payment(world.pool, payment_id)).payment.status is (
            Status.INITIATED
        )
    rejected = await payments.reject(world.pool, stale.payment.id, world.checker, "value date")
    assert rejected.status is Status.REJECTED


async def test_same_key_with_another_body_is_a_conflict(world: World) -> None:
    await payments.create_payment(world.pool, payment_body(), world.maker, idempotency_key="k1")
    with pytest.raises(Conflict, match="different request body"):
        await payments.create_payment(
            world.pool, payment_body(amount="1.00"), world.maker, idempotency_key="k1"
        )


async def test_keys_belong_to_their_operator(world: World) -> None:
    one = await payments.create_payment(
        world.pool, payment_body(), world.maker, idempotency_key="k"
    )
    two = await payments.create_payment(
        world.pool, payment_body(), world.maker2, idempotency_key="k"
    )
    assert one.payment.id != two.payment.id


async def test_concurrent_requests_with_one_key_create_one_payment(world: World) -> None:
    results = await asyncio.gather(
        *(
            payments.create_payment(world.pool, payment_body(), world.maker, idempotency_key="same")
            for _ in range(12)
        )
    )
    assert len({r.payment.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM payments") == 1


async def test_approval_records_the_approver(world: World) -> None:
    before = payments_approved_total._value.get()
    payment = await world.create()
    approved = await payments.approve(world.pool, payment.id, world.checker)
    assert approved.status is Status.APPROVED
    assert approved.approved_by == "checker"
    assert approved.approved_at is not None
    assert payments_approved_total._value.get() == before + 1
    # What a status change returns is derived, not read back: it must be what was stored.
    assert approved == await world.reload(payment)


async def test_four_eyes_whatever_the_roles(world: World) -> None:
    created = await payments.create_payment(world.pool, payment_body(), world.allround)
    with pytest.raises(PermissionDenied, match="four eyes"):
        await payments.approve(world.pool, created.payment.id, world.allround)
    assert (await world.reload(created.payment)).status is Status.INITIATED


async def test_fifty_concurrent_approvals_exactly_one_wins(world: World) -> None:
    checkers = [await add_operator(world.pool, f"checker-{n}", Role.CHECKER) for n in range(50)]
    payment = await world.create()
    outcomes = await asyncio.gather(
        *(payments.approve(world.pool, payment.id, checker) for checker in checkers),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, Conflict) for o in losers)
    detail = await payments.get_payment(world.pool, payment.id)
    assert [h.status for h in detail.history] == [Status.INITIATED, Status.APPROVED]
    assert detail.payment.approved_by == winners[0].approved_by


async def test_reject_needs_a_reason_and_records_it(world: World) -> None:
    payment = await world.create()
    with pytest.raises(ValidationError):
        await payments.reject(world.pool, payment.id, world.checker, "  ")
    rejected = await payments.reject(world.pool, payment.id, world.checker, "duplicate invoice")
    assert rejected.status is Status.REJECTED
    assert rejected.reason is not None
    assert (rejected.reason.code, rejected.reason.text) == ("CHECKER_REJECTED", "duplicate invoice")
    assert rejected == await world.reload(payment)
    with pytest.raises(Conflict):
        await payments.approve(world.pool, payment.id, world.checker)


async def test_cancel_by_own_maker_or_admin_before_approval_only(world: World) -> None:
    own = await world.create()
    with pytest.raises(PermissionDenied):
        await payments.cancel(world.pool, own.id, world.maker2)
    assert (await payments.cancel(world.pool, own.id, world.maker)).status is Status.CANCELLED
    other = await world.create()
    assert (await payments.cancel(world.pool, other.id, world.admin)).status is Status.CANCELLED
    approved = await world.drive(await world.create(), Status.APPROVED)
    with pytest.raises(Conflict, match="APPROVED"):
        await payments.cancel(world.pool, approved.id, world.maker)


async def test_unknown_payments_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await payments.approve(world.pool, uuid4(), world.checker)
    with pytest.raises(NotFound):
        await payments.get_payment(world.pool, uuid4())


async def test_listing_pages_newest_first_with_filters(world: World) -> None:
    made = [await world.create(amount=f"{n}.00") for n in range(1, 8)]
    await payments.cancel(world.pool, made[0].id, world.maker)
    first = await payments.list_payments(world.pool, limit=3)
    assert [p.id for p in first] == [p.id for p in reversed(made)][:3]
    rest = await payments.list_payments(
        world.pool, limit=10, after=(first[-1].created_at, first[-1].id)
    )
    assert [p.id for p in first + rest] == [p.id for p in reversed(made)]
    cancelled = await payments.list_payments(world.pool, limit=10, status=Status.CANCELLED)
    assert [p.id for p in cancelled] == [made[0].id]
