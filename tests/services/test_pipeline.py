"""The pipeline's batch steps on a real database: screening, compliance, posting, transmission,
answers; concurrency of claims and postings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from paywire.domain.accounts import clearing_account
from paywire.domain.exception_kinds import ACK_MISSING
from paywire.domain.payment import Payment, utc_iso
from paywire.domain.roles import Role
from paywire.domain.statuses import Status
from paywire.errors import Conflict, PermissionDenied, ValidationError
from paywire.observability.metrics import payments_completed_total, payments_failed_total
from paywire.services import audit as audit_service
from paywire.services import payments, pipeline
from paywire.store import audit, delivery
from paywire.store import exception_queue as exception_store
from paywire.store import ledger as ledger_store
from paywire.store import payments as payment_store
from paywire.store.exception_queue import NewException
from paywire.wire import parse_pacs008_summary
from tests.fixtures.breaks import tamper
from tests.fixtures.metrics import metric
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import (
    ACME,
    COMPOSE,
    LEASE,
    POOR,
    World,
    add_operator,
    answer,
    payment_body,
)

CLEARING_EUR = clearing_account("EUR")
# A debtor account in BGN, as stored before the table withdrew it (Bulgaria joined the euro).
BGN_DEBTOR = "BG80BNBG96611020345678"


async def test_clean_payments_are_screened_hits_are_held_with_reasons(world: World) -> None:
    clean = await world.drive(await world.create(), Status.APPROVED)
    sanctioned = await world.drive(
        await world.create(
            creditor={
                "name": "IVAN  DRAGO",
                "account": "GB29NWBK60161331926819",
                "agent_bic": "NWBKGB2L",
            }
        ),
        Status.APPROVED,
    )
    bad_bank = await world.drive(
        await world.create(
            creditor={
                "name": "Ok Ltd",
                "account": "GB29NWBK60161331926819",
                "agent_bic": "EVILGB2LXXX",
            }
        ),
        Status.APPROVED,
    )
    large = await world.drive(await world.create(amount="500000.01"), Status.APPROVED)
    waiting = await world.create()

    outcome = await pipeline.screen_and_post(
        world.pool,
        [clean.id, sanctioned.id, bad_bank.id, large.id, waiting.id],
        world.rules,
        world.ledger,
        COMPOSE,
    )
    assert outcome.moved[Status.POSTED] == [clean.id]
    assert sorted(outcome.moved[Status.HELD]) == sorted([sanctioned.id, bad_bank.id, large.id])
    assert all(waiting.id not in moved for moved in outcome.moved.values())
    assert (await world.reload(waiting)).status is Status.INITIATED
    reasons = {p.id: (await world.reload(p)).reason for p in (sanctioned, bad_bank, large)}
    assert reasons[sanctioned.id].code == "SANCTIONS_HIT"
    assert "OFAC SDN" in reasons[sanctioned.id].text
    assert "UK HMT" in reasons[bad_bank.id].text
    assert reasons[large.id].code == "AMOUNT_LIMIT"


async def test_look_alike_names_are_held_as_the_names_they_imitate(world: World) -> None:
    """Names in which a letter of another script or a combining mark stands in for a Latin
    letter, as entered through the payments service (world.rules lists Ivan Drago)."""
    names = [
        "Ivan Dr\u0430go",  # Cyrillic a
        "Ivan Drago\u20dd",  # an enclosing mark (Me)
        "Ivan Dra\u0903go",  # a spacing mark (Mc)
        "IVAN DRAG\u039f",  # Greek capital omicron
        "\u0456van Drago",  # Cyrillic dotted i
        "I\u03bdan Drago",  # Greek small nu
    ]
    approved = [
        await world.drive(
            await world.create(
                creditor={
                    "name": name,
                    "account": "GB29NWBK60161331926819",
                    "agent_bic": "NWBKGB2L",
                }
            ),
            Status.APPROVED,
        )
        for name in names
    ]
    ids = [p.id for p in approved]
    outcome = await pipeline.screen_and_post(world.pool, ids, world.rules, world.ledger, COMPOSE)
    assert sorted(outcome.moved[Status.HELD]) == sorted(ids)
    for payment in approved:
        reason = (await world.reload(payment)).reason
        assert (reason.code, reason.text) == (
            "SANCTIONS_HIT",
            "creditor name matches an entry of OFAC SDN",
        ), payment.creditor.name


async def _held(world: World) -> object:
    payment = await world.drive(await world.create(amount="600000.00"), Status.APPROVED)
    await pipeline.screen_and_post(world.pool, [payment.id], world.rules, world.ledger, COMPOSE)
    return await world.reload(payment)


async def test_compliance_releases_or_rejects_held_payments(world: World) -> None:
    released = await _held(world)
    rejected = await _held(world)
    done = await payments.compliance_decision(
        world.pool, released.id, world.compliance, "release", "known counterparty, limit waived"
    )
    assert done.status is Status.SCREENED
    assert done.reason is not None
    assert done.reason.code == "COMPLIANCE_RELEASED"
    done = await payments.compliance_decision(
        world.pool, rejected.id, world.compliance, "reject", "no business rationale"
    )
    assert (done.status, done.reason.code) == (Status.REJECTED, "COMPLIANCE_REJECTED")
    history = (await payments.get_payment(world.pool, released.id)).history
    assert [h.status for h in history][-2:] == [Status.HELD, Status.SCREENED]
    assert history[-2].reason is not None
    assert history[-2].reason.code == "AMOUNT_LIMIT"


async def test_a_held_payment_whose_value_date_has_passed_is_not_released(world: World) -> None:
    """Held over a weekend: released on the Monday, it would be posted and sent with the
    Friday's settlement date. Refused, it stays HELD for the compliance officer to reject."""
    held = await _held(world)
    friday = datetime.now(UTC).date() - timedelta(days=3)
    # As if it had waited since Friday: the fixed terms are a trigger's, so it is put aside.
    await tamper(world.owner, "UPDATE payments SET value_date = $1 WHERE id = $2", friday, held.id)
    with pytest.raises(Conflict, match=rf"value date {friday}, which has passed.*: reject it"):
        await payments.compliance_decision(
            world.pool, held.id, world.compliance, "release", "known counterparty"
        )
    assert (await world.reload(held)).status is Status.HELD
    done = await payments.compliance_decision(
        world.pool, held.id, world.compliance, "reject", "value date passed while held"
    )
    assert done.status is Status.REJECTED


async def test_compliance_decisions_need_the_role_a_decision_and_a_reason(world: World) -> None:
    held = await _held(world)
    with pytest.raises(PermissionDenied):
        await payments.compliance_decision(world.pool, held.id, world.checker, "release", "ok")
    with pytest.raises(ValidationError) as raised:
        await payments.compliance_decision(world.pool, held.id, world.compliance, "maybe", "")
    assert {d["field"] for d in raised.value.details} == {"decision", "reason"}


async def test_who_created_or_approved_a_held_payment_cannot_decide_on_it(world: World) -> None:
    everything = await add_operator(world.pool, "everything", *Role)
    own = await payments.create_payment(world.pool, payment_body(amount="600000.00"), everything)
    await payments.approve(world.pool, own.payment.id, world.checker)
    approved = await world.create(amount="600000.00")
    await payments.approve(world.pool, approved.id, everything)
    await pipeline.screen_and_post(
        world.pool, [own.payment.id, approved.id], world.rules, world.ledger, COMPOSE
    )
    for held in (own.payment.id, approved.id):
        for decision in ("release", "reject"):
            with pytest.raises(PermissionDenied, match="four eyes"):
                await payments.compliance_decision(
                    world.pool, held, everything, decision, "my own payment"
                )
        done = await payments.compliance_decision(
            world.pool, held, world.compliance, "release", "checked by someone else"
        )
        assert done.status is Status.SCREENED


async def test_posting_moves_money_to_the_clearing_account_in_balanced_entries(
    world: World,
) -> None:
    payment = await world.drive(await world.create(amount="1250.00"), Status.SCREENED)
    outcome = await pipeline.post(world.pool, [payment.id], world.ledger, COMPOSE)
    assert outcome.moved == {Status.POSTED: [payment.id]}
    assert await world.balance(ACME) == Decimal("998750.00")
    assert await world.balance(CLEARING_EUR) == Decimal("1250.00")
    async with world.pool.acquire() as conn:
        entries = await conn.fetch(
            "SELECT e.amount, p.kind FROM ledger_entries e JOIN postings p ON p.id = e.posting_id"
            " WHERE p.payment_id = $1",
            payment.id,
        )
    assert sorted(e["amount"] for e in entries) == [Decimal("-1250.00"), Decimal("1250.00")]


async def test_screening_and_posting_together_make_both_changes_and_audit_both(
    world: World,
) -> None:
    clean = await world.drive(await world.create(amount="10.00"), Status.APPROVED)
    poor = await world.drive(
        await world.create(amount="500.00", debtor={"name": "P", "account": POOR}),
        Status.APPROVED,
    )
    large = await world.drive(await world.create(amount="600000.00"), Status.APPROVED)
    outcome = await pipeline.screen_and_post(
        world.pool, [clean.id, poor.id, large.id], world.rules, world.ledger, COMPOSE
    )
    assert outcome.moved == {
        Status.POSTED: [clean.id],
        Status.REJECTED: [poor.id],
        Status.HELD: [large.id],
    }
    histories = {
        p.id: [h.status for h in (await payments.get_payment(world.pool, p.id)).history]
        for p in (clean, poor, large)
    }
    assert histories[clean.id][-2:] == [Status.SCREENED, Status.POSTED]
    assert histories[poor.id][-2:] == [Status.SCREENED, Status.REJECTED]
    assert histories[large.id][-1] == Status.HELD
    assert (await payments.get_payment(world.pool, clean.id)).message is not None
    async with world.pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action FROM audit_logs WHERE entity_id = $1 ORDER BY id", str(clean.id)
        )
        assert (await audit.verify(conn)).ok
    assert [a["action"] for a in actions][-2:] == ["payment.screen", "payment.post"]


async def test_insufficient_funds_end_in_rejected(world: World) -> None:
    fits = [
        await world.drive(
            await world.create(amount="40.00", debtor={"name": "P", "account": POOR}),
            Status.SCREENED,
        )
        for _ in range(3)
    ]
    outcome = await pipeline.post(world.pool, [p.id for p in fits], world.ledger, COMPOSE)
    assert len(outcome.moved[Status.POSTED]) == 2
    (refused,) = outcome.moved[Status.REJECTED]
    payment = await world.reload(next(p for p in fits if p.id == refused))
    assert payment.reason is not None
    assert payment.reason.code == "INSUFFICIENT_FUNDS"
    assert await world.balance(POOR) == Decimal("20.00")


async def _value_date_passed(world: World, payment: Payment) -> None:
    """Midnight passes: approved at 23:59 UTC, a night without the database, a quarantine."""
    await tamper(
        world.owner, "UPDATE payments SET value_date = current_date - 1 WHERE id = $1", payment.id
    )


async def _currency_withdrawn(world: World, payment: Payment) -> None:
    """An upgrade of the ISO 4217 table withdraws the currency of a payment stored in it (BGN,
    from a debtor account in BGN): no message can be built in it, and the posting was rolled
    back and tried again for ever."""
    await tamper(
        world.owner,
        "INSERT INTO accounts (account, name, currency, balance)"
        " VALUES ($1, 'Sofia OOD', 'BGN', 1000)",
        BGN_DEBTOR,
    )
    await tamper(
        world.owner,
        "UPDATE payments SET currency = 'BGN', debtor_account = $1 WHERE id = $2",
        BGN_DEBTOR,
        payment.id,
    )


@pytest.mark.parametrize("status", [Status.APPROVED, Status.SCREENED])
@pytest.mark.parametrize(
    ("stop_holding", "code"),
    [(_value_date_passed, "VALUE_DATE_PASSED"), (_currency_withdrawn, "CURRENCY_WITHDRAWN")],
)
async def test_terms_that_stopped_holding_since_approval_are_rejected_before_money_moves(
    world: World,
    status: Status,
    stop_holding: Callable[[World, Payment], Awaitable[None]],
    code: str,
) -> None:
    """Approval refuses a passed value date, and entry a currency not in ISO 4217; posting
    checks again, or the debtor is debited and the message carries a settlement date in the
    past (or cannot be built). The rest of the batch is posted."""
    late, on_time = [await world.drive(await world.create(), status) for _ in range(2)]
    # The fixed terms are a trigger's, so they are changed with it put aside.
    await stop_holding(world, late)
    before = await world.balance(ACME)
    if status is Status.APPROVED:
        await pipeline.screen_and_post(
            world.pool, [late.id, on_time.id], world.rules, world.ledger, COMPOSE
        )
    else:
        await pipeline.post(world.pool, [late.id, on_time.id], world.ledger, COMPOSE)
    refused = await world.reload(late)
    assert refused.status is Status.REJECTED
    assert refused.reason is not None
    assert refused.reason.code == code
    assert (await world.reload(on_time)).status is Status.POSTED
    assert await world.balance(ACME) == before - on_time.amount
    stored = await world.pool.fetchval(
        "SELECT count(*) FROM messages WHERE payment_id = $1", late.id
    )
    assert stored == 0


@pytest.mark.parametrize("step", ["screen_and_post", "post"])
async def test_funds_are_taken_in_approval_order_not_id_order(world: World, step: str) -> None:
    """The account covers one of the two: the one approved first is posted, the other refused.
    The batch comes locked in id order and was posted in that order, so the payment approved
    second took the funds whenever its random id sorted first (here it always does), and the
    one-by-one fallback, in claim order, decided the other way."""
    first, second = sorted(
        [
            await world.create(amount="60.00", debtor={"name": "P", "account": POOR})
            for _ in range(2)
        ],
        key=lambda p: p.id,
        reverse=True,
    )
    ready = Status.APPROVED if step == "screen_and_post" else Status.SCREENED
    first = await world.drive(first, ready)
    second = await world.drive(second, ready)
    assert first.approved_at is not None
    assert second.approved_at is not None
    assert first.approved_at < second.approved_at

    in_id_order = sorted([first.id, second.id])
    if step == "screen_and_post":
        outcome = await pipeline.screen_and_post(
            world.pool, in_id_order, world.rules, world.ledger, COMPOSE
        )
    else:
        outcome = await pipeline.post(world.pool, in_id_order, world.ledger, COMPOSE)

    assert outcome.moved == {Status.POSTED: [first.id], Status.REJECTED: [second.id]}
    refused = await world.reload(second)
    assert refused.reason is not None
    assert refused.reason.code == "INSUFFICIENT_FUNDS"
    assert await world.balance(POOR) == Decimal("40.00")


async def test_concurrent_postings_never_double_post_or_overdraw(world: World) -> None:
    batch = [
        await world.drive(
            await world.create(amount="10.00", debtor={"name": "P", "account": POOR}),
            Status.SCREENED,
        )
        for _ in range(15)
    ]
    ids = [p.id for p in batch]
    # Four workers, each handed overlapping slices, post at the same time.
    await asyncio.gather(
        *(pipeline.post(world.pool, ids[i::2] + ids[:5], world.ledger, COMPOSE) for i in range(4))
    )
    async with world.pool.acquire() as conn:
        statuses = await conn.fetch("SELECT status, count(*) AS n FROM payments GROUP BY status")
        postings = await conn.fetchval("SELECT count(*) FROM postings WHERE kind = 'POSTING'")
    by_status = {row["status"]: row["n"] for row in statuses}
    assert by_status == {"POSTED": 10, "REJECTED": 5}
    assert postings == 10
    assert await world.balance(POOR) == Decimal("0.00")
    assert await world.balance(CLEARING_EUR) == Decimal("100.00")


async def test_a_currency_s_first_postings_side_by_side_do_not_deadlock(world: World) -> None:
    """`other` opens the clearing account, as the first posting of a currency does, and then
    locks the debtor's account. The posting beside it waited for the new clearing account while
    already holding the debtor's, and the two deadlocked; now it opens (or waits to open) the
    clearing account before it locks anything."""
    assert await world.pool.fetchval("SELECT count(*) FROM accounts WHERE kind = 'CLEARING'") == 0
    payment = await world.drive(
        await world.create(amount="10.00", debtor={"name": "P", "account": POOR}), Status.SCREENED
    )
    async with world.pool.acquire() as other, other.transaction():
        await ledger_store.open_clearing_accounts(other, ["EUR"])
        posting = asyncio.create_task(
            pipeline.post(world.pool, [payment.id], world.ledger, COMPOSE)
        )
        await poll(lambda: lock_waiters(world.pool), what="the posting waiting for the lock")
        await other.execute("SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE", POOR)
    await posting
    assert (await world.reload(payment)).status is Status.POSTED
    assert await world.balance(CLEARING_EUR) == Decimal("10.00")


async def test_claims_skip_rows_other_workers_hold(world: World) -> None:
    for _ in range(6):
        await world.drive(await world.create(), Status.APPROVED)
    async with (
        world.pool.acquire() as one,
        world.pool.acquire() as two,
        one.transaction(),
        two.transaction(),
    ):
        first = await pipeline.claim(one, Status.APPROVED, 4)
        second = await pipeline.claim(two, Status.APPROVED, 4)
    assert len(first) == 4
    assert len(second) == 2
    assert not set(first) & set(second)


async def test_posting_stores_the_message_and_transmitting_counts_the_first_send(
    world: World,
) -> None:
    payment = await world.drive(await world.create(), Status.POSTED)
    detail = await payments.get_payment(world.pool, payment.id)
    assert detail.message is not None
    assert (detail.message.msg_id, detail.message.attempts) == (payment.msg_id, 0)
    now = datetime.now(UTC)
    sends = await pipeline.transmit(world.pool, [payment.id], at=now, lease=LEASE, by="test")
    assert [(s.payment_id, s.msg_id, s.attempt) for s in sends] == [(payment.id, payment.msg_id, 1)]
    summary = parse_pacs008_summary(sends[0].payload)
    assert (summary.msg_id, summary.uetr) == (payment.msg_id, str(payment.uetr))
    assert (await world.reload(payment)).status is Status.TRANSMITTED
    # Transmitting again finds nothing POSTED: a payment is transmitted once, then only resent.
    assert await pipeline.transmit(world.pool, [payment.id], at=now, lease=LEASE, by="t") == []
    async with world.pool.acquire() as conn:
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="byte for byte"):
            await conn.execute(
                "UPDATE messages SET payload = 'x' WHERE payment_id = $1", payment.id
            )


async def test_a_resend_falls_due_with_its_lease_unless_still_on_its_way(world: World) -> None:
    """A transmitter excludes what it still awaits: a lease can run out a moment before the pool
    gives the message up."""
    waiting = await world.drive(await world.create(), Status.TRANSMITTED)
    lost = await world.drive(await world.create(), Status.TRANSMITTED)
    later = datetime.now(UTC) + LEASE + LEASE
    async with world.pool.acquire() as conn, conn.transaction():
        # Within their leases, neither is anyone's to resend.
        early = datetime.now(UTC) + LEASE / 2
        assert (
            await delivery.claim_due(conn, 10, at=early, lease=LEASE, by="t", max_attempts=5) == []
        )
        due = await delivery.claim_due(
            conn, 10, at=later, lease=LEASE, by="t", max_attempts=5, exclude=[waiting.id]
        )
    assert [(t.payment_id, t.attempt) for t in due] == [(lost.id, 2)]


async def test_a_resend_after_the_clock_stepped_back_is_claimed_not_refused(world: World) -> None:
    """First sent at a host clock since stepped back (NTP, a resumed VM): recording the resend
    at the earlier "now" broke messages_sent_order, and the claim failed with every other
    message due in it, until the clock caught up."""
    payment = await world.drive(await world.create(), Status.POSTED)
    now = datetime.now(UTC)
    sent = now + timedelta(minutes=1)
    await pipeline.transmit(world.pool, [payment.id], at=sent, lease=LEASE, by="a")
    async with world.pool.acquire() as conn, conn.transaction():
        # Lost with its connection, so due at once: by the clock as it reads now.
        await conn.execute(
            "UPDATE messages SET next_attempt_at = $2 WHERE payment_id = $1", payment.id, now
        )
        due = await delivery.claim_due(conn, 10, at=now, lease=LEASE, by="b", max_attempts=5)
    assert [(t.payment_id, t.attempt) for t in due] == [(payment.id, 2)]
    row = await world.pool.fetchrow(
        "SELECT first_sent_at, last_sent_at FROM messages WHERE payment_id = $1", payment.id
    )
    assert row["last_sent_at"] == row["first_sent_at"] == sent


async def test_a_retry_grants_one_transmission_more_than_made_however_often_sent(
    world: World,
) -> None:
    """`POST /payments/{id}/retry` answered 503 because the reply to its COMMIT was lost is
    sent again, as docs/API.md tells clients to: it must find the transmission granted, not
    grant another. A message with transmissions left keeps its limit and is made due now."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)  # one transmission
    now = datetime.now(UTC)
    async with world.pool.acquire() as conn:
        assert await delivery.grant_attempt(conn, payment.id, at=now, max_attempts=5) == (5, 5)
        await conn.execute(
            "UPDATE messages SET attempt_limit = 1 WHERE payment_id = $1", payment.id
        )
        assert await delivery.grant_attempt(conn, payment.id, at=now, max_attempts=5) == (1, 2)
        assert await delivery.grant_attempt(conn, payment.id, at=now, max_attempts=5) == (2, 2)
        due = await conn.fetchval(
            "SELECT next_attempt_at FROM messages WHERE payment_id = $1", payment.id
        )
    assert due == now


async def test_a_lost_transmission_brings_forward_only_its_own_lease(world: World) -> None:
    """Process a lost its connection with attempt 1 on it; by then b had claimed attempt 2."""
    payment = await world.drive(await world.create(), Status.POSTED)
    first = datetime.now(UTC)
    await pipeline.transmit(world.pool, [payment.id], at=first, lease=LEASE, by="a")
    later = first + LEASE + LEASE
    async with world.pool.acquire() as conn, conn.transaction():
        await delivery.claim_due(conn, 1, at=later, lease=LEASE, by="b", max_attempts=5)

    async def due_at() -> datetime:
        return await world.pool.fetchval(
            "SELECT next_attempt_at FROM messages WHERE payment_id = $1", payment.id
        )

    async with world.pool.acquire() as conn:
        await delivery.due_now(conn, [(payment.id, 1)], at=later, by="a")
        assert await due_at() == later + LEASE
        await delivery.due_now(conn, [(payment.id, 2)], at=later, by="b")
        assert await due_at() == later


async def test_the_detail_shows_the_answer_that_settled_not_one_refused_before_it(
    world: World,
) -> None:
    """A lying receiver's ACK naming another UETR is stored and refused; the genuine NACK after
    it fails the payment. The detail must say NACK: the ACK would tell an operator the payment
    went through when its posting was reversed."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    foreign = "00000000-0000-4000-8000-000000000000"
    refused = await pipeline.settle(
        world.pool, [answer(payment, "ACK", uetr=foreign)], world.ledger
    )
    assert refused.refused == [payment.msg_id]
    await pipeline.settle(world.pool, [answer(payment, "NACK", reason_code="AC04")], world.ledger)

    detail = await payments.get_payment(world.pool, payment.id)

    assert detail.payment.status is Status.FAILED
    assert detail.message is not None
    assert detail.message.answer is not None
    assert (detail.message.answer.kind, detail.message.answer.reason_code) == ("NACK", "AC04")


async def test_an_ack_completes_and_later_answers_are_ignored(world: World) -> None:
    before = payments_completed_total._value.get()
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    settled = await pipeline.settle(world.pool, [answer(payment, "ACK")], world.ledger)
    assert settled.completed == [payment.id]
    again = await pipeline.settle(
        world.pool, [answer(payment, "NACK", reason_code="AC04")], world.ledger
    )
    assert again.ignored == [payment.msg_id]
    detail = await payments.get_payment(world.pool, payment.id)
    assert detail.payment.status is Status.COMPLETED
    assert detail.message is not None
    assert detail.message.answer is not None
    assert detail.message.answer.kind == "ACK"
    assert payments_completed_total._value.get() == before + 1
    async with world.pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM answers WHERE payment_id = $1", payment.id)
            == 2
        )


async def test_a_nack_fails_the_payment_and_the_reversal_restores_balances(world: World) -> None:
    before = payments_failed_total._value.get()
    payment = await world.drive(await world.create(amount="300.00"), Status.TRANSMITTED)
    assert await world.balance(ACME) == Decimal("999700.00")
    settled = await pipeline.settle(
        world.pool, [answer(payment, "NACK", reason_code="AC04")], world.ledger
    )
    assert settled.failed == [payment.id]
    failed = await world.reload(payment)
    assert failed.status is Status.FAILED
    assert failed.reason is not None
    assert (failed.reason.code, failed.reason.text) == ("AC04", "account closed")
    assert await world.balance(ACME) == Decimal("1000000.00")
    assert await world.balance(CLEARING_EUR) == Decimal("0.00")
    async with world.pool.acquire() as conn:
        kinds = await conn.fetch(
            "SELECT kind FROM postings WHERE payment_id = $1 ORDER BY kind", payment.id
        )
    assert [k["kind"] for k in kinds] == ["POSTING", "REVERSAL"]
    assert payments_failed_total._value.get() == before + 1


async def test_one_batch_settles_each_payment_once(world: World) -> None:
    one = await world.drive(await world.create(), Status.TRANSMITTED)
    two = await world.drive(await world.create(), Status.TRANSMITTED)
    settled = await pipeline.settle(
        world.pool,
        [answer(one, "ACK"), answer(two, "NACK", reason_code="AM04"), answer(one, "NACK")],
        world.ledger,
    )
    assert (settled.completed, settled.failed, settled.ignored) == (
        [one.id],
        [two.id],
        [one.msg_id],
    )


OTHER_UETR = "00000000-0000-4000-8000-000000000000"


async def open_exceptions_of(world: World, payment_id: object) -> list[tuple[str, str]]:
    rows = await world.pool.fetch(
        "SELECT kind, detail FROM exceptions WHERE payment_id = $1 AND state = 'OPEN'",
        payment_id,
    )
    return [(r["kind"], r["detail"]) for r in rows]


@pytest.mark.parametrize(("first", "then"), [("ACK", "NACK"), ("NACK", "ACK")])
async def test_an_answer_contradicting_the_settlement_opens_ack_missing(
    world: World, first: str, then: str
) -> None:
    """The ledger follows the first answer; a later one saying the opposite (a receiver that
    said both, or the wire contradicting an operator's mark_settled) was ignored unseen, and the
    money may be on the wrong side. The same answer again, or one naming another UETR, is not a
    contradiction."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(payment, first, reason_code="AC04")], world.ledger)
    settled = await world.reload(payment)

    repeated = await pipeline.settle(world.pool, [answer(payment, first)], world.ledger)
    foreign = await pipeline.settle(
        world.pool, [answer(payment, then, uetr=OTHER_UETR)], world.ledger
    )
    assert repeated.ignored == foreign.ignored == [payment.msg_id]
    assert await open_exceptions_of(world, payment.id) == []

    contradicting = await pipeline.settle(world.pool, [answer(payment, then)], world.ledger)
    assert contradicting.ignored == [payment.msg_id]
    assert await world.reload(payment) == settled, "nothing moved: the first answer stands"
    ((kind, detail),) = await open_exceptions_of(world, payment.id)
    assert kind == "ACK_MISSING"
    assert detail.startswith(f"{then} {'ACCP' if then == 'ACK' else 'RJCT'} after the payment")
    assert f"settled by a {first}" in detail


async def ack_missing(world: World, payment: Payment) -> int:
    """ACK_MISSING opened as the pipeline opens it after the last unanswered attempt."""
    (opened,) = await pipeline.open_exceptions(
        world.pool,
        [NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered")],
    )
    return opened.id


@pytest.mark.parametrize(("kind", "status"), [("ACK", "COMPLETED"), ("NACK", "FAILED")])
async def test_an_answer_after_ack_missing_settles_and_the_gateway_closes_the_exception(
    world: World, kind: str, status: str
) -> None:
    """The answer came after all: an operator asking the receiver for it would ask for nothing.
    The exception is resolved by `system`, with what came and when, and audited."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    exception_id = await ack_missing(world, payment)
    assert metric("exceptions_open") == 1

    late = answer(payment, kind, reason_code="AC04")
    await pipeline.settle(world.pool, [late], world.ledger)

    assert (await world.reload(payment)).status is Status(status)
    row = await world.pool.fetchrow(
        "SELECT state, resolved_by, note FROM exceptions WHERE id = $1", exception_id
    )
    assert (row["state"], row["resolved_by"]) == ("RESOLVED", "system")
    assert row["note"] == (
        f"the receiver answered after all: {kind} {late.status} received "
        f"{utc_iso(late.received_at)}; the payment is {status}"
    )
    (entry,) = await world.pool.fetch(
        "SELECT operator, before, after FROM audit_logs"
        " WHERE action = 'exception.resolve' AND entity_id = $1",
        str(exception_id),
    )
    assert entry["operator"] == "system"
    assert (entry["before"]["state"], entry["after"]["state"]) == ("OPEN", "RESOLVED")
    assert entry["before"]["note"] is None
    assert entry["after"]["note"] == row["note"]
    assert metric("exceptions_open") == 0
    assert (await audit_service.verify(world.pool)).ok


async def test_an_ack_missing_an_operator_is_resolving_is_left_to_them(world: World) -> None:
    """Its row locked by an operator's resolution: the settler does not wait for it (they lock
    the exception, then the payment; it the other way round), and the payment settles."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    exception_id = await ack_missing(world, payment)
    async with world.owner.acquire() as operator, operator.transaction():
        await operator.execute("SELECT 1 FROM exceptions WHERE id = $1 FOR UPDATE", exception_id)
        settled = await asyncio.wait_for(
            pipeline.settle(world.pool, [answer(payment, "ACK")], world.ledger), 10
        )
    assert settled.completed == [payment.id]
    assert await open_exceptions_of(world, payment.id) == [
        ("ACK_MISSING", "5 transmissions unanswered")
    ]


async def test_contradicting_answers_in_one_batch_settle_by_the_first_and_open_ack_missing(
    world: World,
) -> None:
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    settled = await pipeline.settle(
        world.pool, [answer(payment, "ACK"), answer(payment, "NACK")], world.ledger
    )
    assert (settled.completed, settled.ignored) == ([payment.id], [payment.msg_id])
    assert [k for k, _ in await open_exceptions_of(world, payment.id)] == ["ACK_MISSING"]


async def test_orphans_and_foreign_uetrs_open_exceptions(world: World) -> None:
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    settled = await pipeline.settle(
        world.pool,
        [
            answer(payment, "ACK", msg_id="PWMNOSUCHMESSAGE"),
            answer(payment, "ACK", uetr=OTHER_UETR),
        ],
        world.ledger,
    )
    assert (settled.orphans, settled.refused) == (["PWMNOSUCHMESSAGE"], [payment.msg_id])
    assert (await world.reload(payment)).status is Status.TRANSMITTED
    async with world.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, payment_id, msg_id, state FROM exceptions ORDER BY id"
        )
        orphan_answers = await conn.fetchval(
            "SELECT count(*) FROM answers WHERE payment_id IS NULL"
        )
    assert [(r["kind"], r["payment_id"], r["msg_id"]) for r in rows] == [
        ("ORPHAN_ACK", None, "PWMNOSUCHMESSAGE"),
        ("PROCESSING_ERROR", payment.id, payment.msg_id),
    ]
    assert orphan_answers == 1
    # The same orphan again: still one OPEN exception for it.
    await pipeline.settle(
        world.pool, [answer(payment, "ACK", msg_id="PWMNOSUCHMESSAGE")], world.ledger
    )
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM exceptions") == 2


async def test_an_answer_for_a_message_whose_transmissions_were_given_back_is_kept(
    world: World,
) -> None:
    """A transmission the pool refused before a byte left (the breaker opened, no connection
    had room) is given back: the payment stays TRANSMITTED, its message unsent. A receiver
    answering it has it from elsewhere: kept as an answer to a POSTED payment's message is,
    not applied, and the posting stays. The transmission that follows is answered as usual."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    balance = await world.balance(ACME)
    async with world.pool.acquire() as conn, conn.transaction():
        await delivery.due_now(
            conn, [(payment.id, 1)], at=datetime.now(UTC), by="test", written=False
        )
    nack = answer(payment, "NACK", reason_code="AC04")
    settled = await pipeline.settle(world.pool, [nack], world.ledger)
    assert (settled.ignored, settled.failed) == ([payment.msg_id], [])
    assert (await world.reload(payment)).status is Status.TRANSMITTED
    assert await world.balance(ACME) == balance
    row = await world.pool.fetchrow(
        "SELECT kind, detail FROM exceptions WHERE state = 'OPEN' AND payment_id = $1", payment.id
    )
    assert row["kind"] == "PROCESSING_ERROR"
    assert row["detail"].startswith(
        "NACK RJCT for a message not sent yet (the payment is TRANSMITTED"
    )

    async with world.pool.acquire() as conn, conn.transaction():
        (resend,) = await delivery.claim_due(
            conn, 10, at=datetime.now(UTC), lease=LEASE, by="test", max_attempts=5
        )
    assert (resend.payment_id, resend.attempt) == (payment.id, 1)
    assert (await pipeline.settle(world.pool, [nack], world.ledger)).failed == [payment.id]
    assert await world.balance(ACME) == balance + payment.amount


async def test_an_answer_for_a_message_never_sent_is_kept_and_shown(world: World) -> None:
    """A receiver answering a message paywire has stored but not yet sent (POSTED) has it from
    elsewhere: the answer is kept, not applied, and raised as a PROCESSING_ERROR. It is shown
    with the payment until an answer settles the message; then that answer is."""
    payment = await world.drive(await world.create(), Status.POSTED)
    settled = await pipeline.settle(world.pool, [answer(payment, "ACK")], world.ledger)
    assert settled.ignored == [payment.msg_id]
    assert (await world.reload(payment)).status is Status.POSTED
    row = await world.pool.fetchrow(
        "SELECT kind, payment_id, detail FROM exceptions WHERE state = 'OPEN'"
    )
    assert (row["kind"], row["payment_id"]) == ("PROCESSING_ERROR", payment.id)
    assert row["detail"].startswith(
        "ACK ACCP for a message not sent yet"
        " (the payment is POSTED, no transmission of it has left)"
    )
    detail = await payments.get_payment(world.pool, payment.id)
    assert detail.message is not None
    assert detail.message.answer is not None
    assert detail.message.answer.kind == "ACK"

    await pipeline.transmit(world.pool, [payment.id], at=datetime.now(UTC), lease=LEASE, by="test")
    nack = answer(payment, "NACK", reason_code="AC04")
    assert (await pipeline.settle(world.pool, [nack], world.ledger)).failed == [payment.id]
    detail = await payments.get_payment(world.pool, payment.id)
    assert detail.payment.status is Status.FAILED
    assert detail.message is not None
    assert detail.message.answer is not None
    assert (detail.message.answer.kind, detail.message.answer.reason_code) == ("NACK", "AC04")
    assert detail.message.answer.received_at == nack.received_at


async def test_a_gauge_that_cannot_be_counted_after_the_commit_does_not_fail_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch committed; a settle that raised then was settled again by the settler's retry,
    and each of its answers stored twice."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)

    async def database_gone(*_: object) -> int:
        raise TimeoutError

    monkeypatch.setattr(exception_store, "count_open", database_gone)
    settled = await pipeline.settle(
        world.pool, [answer(payment, "ACK", msg_id="PWMNOSUCHMESSAGE")], world.ledger
    )
    assert settled.orphans == ["PWMNOSUCHMESSAGE"]
    assert await world.pool.fetchval("SELECT count(*) FROM exceptions WHERE state = 'OPEN'") == 1


async def test_settling_beside_an_operator_resolving_the_same_orphan_cannot_deadlock(
    world: World,
) -> None:
    """The operator's transaction holds the orphan's exception and then asks for the chain
    head; the settler, opening the same orphan again, waits for that exception, so it must not
    hold the head yet: not for the payment's status change, nor for the ACK_MISSING its answer
    closes first."""
    orphan = "PWMNOSUCHMESSAGE"
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(payment, "ACK", msg_id=orphan)], world.ledger)
    missing = NewException(ACK_MISSING, payment.id, payment.msg_id, "no answer after 5 attempts")
    await pipeline.open_exceptions(world.pool, [missing])
    async with world.pool.acquire() as operator:
        resolving = operator.transaction()
        await resolving.start()
        await operator.execute(
            "UPDATE exceptions SET state = 'RESOLVED', resolved_at = now(), resolved_by = $2,"
            " note = 'known' WHERE msg_id = $1",
            orphan,
            world.admin.username,
        )
        settling = asyncio.create_task(
            pipeline.settle(
                world.pool,
                [answer(payment, "ACK"), answer(payment, "ACK", msg_id=orphan)],
                world.ledger,
            )
        )
        await poll(lambda: lock_waiters(world.pool), what="the settling waiting for the lock")
        await operator.execute("SELECT 1 FROM audit_chain FOR UPDATE")
        await resolving.commit()
    assert (await settling).completed == [payment.id]
    async with world.pool.acquire() as conn:
        states = await conn.fetch("SELECT state FROM exceptions WHERE msg_id = $1", orphan)
        closed = await conn.fetchval(
            "SELECT state FROM exceptions WHERE payment_id = $1 AND kind = 'ACK_MISSING'",
            payment.id,
        )
    assert sorted(r["state"] for r in states) == ["OPEN", "RESOLVED"]
    assert closed == "RESOLVED"


async def test_claims_take_the_oldest_first_and_leave_excluded_ones(world: World) -> None:
    first, second = [await world.drive(await world.create(), Status.APPROVED) for _ in range(2)]
    async with world.pool.acquire() as conn, conn.transaction():
        assert await payment_store.claim(conn, Status.APPROVED, 1) == [first.id]
        assert await payment_store.claim(conn, Status.APPROVED, 10, exclude=[first.id]) == [
            second.id
        ]
