"""Reconciliation against a real database: each category made on purpose and found by the daily
report, by aging and by the sweep, which opens its exceptions once and sets the gauges."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from paywire.config import load_settings
from paywire.domain.exception_kinds import ACK_MISSING
from paywire.domain.statuses import Status
from paywire.pipeline.housekeeping import Housekeeping
from paywire.pipeline.recovery import AckMissing
from paywire.services import exception_queue, pipeline, reconciliation, seeding
from paywire.store import messages
from paywire.store.exception_queue import NewException
from paywire.store.tx import Conn, Pool
from tests.fixtures.breaks import AMOUNTS, Breaks, one_of_each, tamper
from tests.fixtures.metrics import metric
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import ACME, CHEAP_HASHER, POOR, YANKEE, World, answer

NOW = timedelta(0)  # an answer window of nothing: every unanswered payment is overdue


async def daily(pool: Pool, day: date, **kw: Any) -> dict[str, Any]:
    async with reconciliation.daily(pool, day, answer_window=kw.pop("window", NOW), **kw) as report:
        return json.loads(b"".join([chunk async for chunk in report.json()]))


async def daily_csv(pool: Pool, day: date) -> list[dict[str, str]]:
    async with reconciliation.daily(pool, day, answer_window=NOW) as report:
        text = b"".join([chunk async for chunk in report.csv()]).decode()
    return list(csv.DictReader(io.StringIO(text)))


async def made_on(pool: Pool) -> date:
    """The day (UTC) the test's payments were stored on, which is not today if the suite ran
    past midnight since they were made."""
    made: datetime = await pool.fetchval("SELECT min(created_at) FROM payments")
    return made.astimezone(UTC).date()


async def stored_days(pool: Pool) -> list[date]:
    """Every day (UTC) a payment was stored on or an orphan answer received on, in order: one,
    unless the test made them across midnight."""
    stamps = await pool.fetch(
        "SELECT created_at AS at FROM payments"
        " UNION ALL SELECT received_at FROM answers WHERE payment_id IS NULL"
    )
    return sorted({r["at"].astimezone(UTC).date() for r in stamps})


async def reports(pool: Pool) -> list[dict[str, Any]]:
    """The reports of `stored_days`, the days that hold the test's payments and orphans."""
    return [await daily(pool, day) for day in await stored_days(pool)]


async def unmatched(pool: Pool) -> list[dict[str, Any]]:
    """The unmatched items of `reports`, one day's after the other's."""
    return [item for report in await reports(pool) for item in report["unmatched"]]


async def aging(pool: Pool, days: int, as_of: datetime | None = None) -> list[dict[str, Any]]:
    async with reconciliation.aging(pool, days, answer_window=NOW, as_of=as_of) as report:
        body = json.loads(b"".join([chunk async for chunk in report.json()]))
    assert body["days"] == days
    items: list[dict[str, Any]] = body["unmatched"]
    return items


def by_category(items: list[dict[str, Any]]) -> dict[str, str]:
    """category -> the payment id (or, for an orphan, the MsgId) of each item."""
    return {i["category"]: i["payment_id"] or i["msg_id"] for i in items}


def expected(breaks: Breaks) -> dict[str, str]:
    return {
        "MISSING_ACK": str(breaks.missing_ack),
        "LEDGER_MISMATCH": str(breaks.ledger_mismatch),
        "MISSING_REVERSAL": str(breaks.missing_reversal),
        "ORPHAN_ACK": breaks.orphan_msg_id,
    }


async def ledger_mismatches(pool: Pool) -> dict[str, str]:
    """The LEDGER_MISMATCH items of the payments' days: payment id -> detail."""
    items = await unmatched(pool)
    return {i["payment_id"]: i["detail"] for i in items if i["category"] == "LEDGER_MISMATCH"}


async def test_the_daily_report_finds_one_item_of_each_category(world: World) -> None:
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    day = await made_on(world.pool)
    report = await daily(world.pool, day)
    assert report["date"] == day.isoformat()
    assert report["totals"] == {"payments": 4, "matched": 1, "unmatched": 4}
    assert report["by_currency"] == [
        {"currency": "EUR", "payments": 4, "amount": "406.00", "matched": 1, "unmatched": 3}
    ]
    assert by_category(report["unmatched"]) == expected(breaks)
    details = {i["category"]: i["detail"] for i in report["unmatched"]}
    assert details["LEDGER_MISMATCH"] == "posted 100.00 EUR, the payment is for 101.00"
    assert details["MISSING_ACK"].startswith("no answer to 1 transmission(s) since ")
    # The orphan's exception was opened by the settler; the others have none yet.
    assert [i["exception_id"] is None for i in report["unmatched"]].count(False) == 1

    # The CSV form is the same list.
    rows = await daily_csv(world.pool, day)
    assert rows == [
        {k: "" if v is None else str(v) for k, v in item.items()} for item in report["unmatched"]
    ]


async def test_an_answer_due_later_is_not_missing_yet(world: World) -> None:
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    report = await daily(world.pool, await made_on(world.pool), window=timedelta(minutes=5))
    assert "MISSING_ACK" not in by_category(report["unmatched"])
    assert report["totals"] == {"payments": 4, "matched": 2, "unmatched": 3}
    assert str(breaks.missing_ack) not in {i["payment_id"] for i in report["unmatched"]}


async def test_a_day_without_payments_is_empty(world: World) -> None:
    async with reconciliation.daily(
        world.pool, datetime(2001, 2, 3).date(), answer_window=NOW
    ) as report:
        body = json.loads(b"".join([chunk async for chunk in report.json()]))
    assert body["date"] == "2001-02-03"
    assert body["totals"] == {"payments": 0, "matched": 0, "unmatched": 0}
    assert body["by_currency"] == []
    assert body["unmatched"] == []


async def test_ledger_rules_beyond_the_amount(world: World) -> None:
    first, second = [
        (await world.drive(await world.create(), Status.COMPLETED)).id for _ in range(2)
    ]
    # A COMPLETED payment without its posting; a reversal on a COMPLETED one.
    await tamper(
        world.owner,
        "WITH gone AS (DELETE FROM postings WHERE payment_id = $1 RETURNING id) "
        "DELETE FROM ledger_entries WHERE posting_id IN (SELECT id FROM gone)",
        second,
    )
    await world.ledger.reverse(world.pool, [first])
    details = await ledger_mismatches(world.pool)
    assert details[str(second)] == "no posting for a COMPLETED payment"
    assert details[str(first)] == "reversed although the payment is COMPLETED"


async def test_the_ledger_must_move_the_money_out_of_the_debtor_and_back(world: World) -> None:
    """Amounts that match, on the wrong side: a posting that credits the debtor, and a reversal
    that debits the debtor a second time (the payment taken twice)."""
    wrong_way = (await world.drive(await world.create(), Status.COMPLETED)).id
    failed = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(failed, "NACK", reason_code="AC04")], world.ledger)
    await tamper(
        world.owner,
        "UPDATE ledger_entries e SET amount = -e.amount FROM postings g"
        " WHERE g.id = e.posting_id AND g.payment_id = ANY($1::uuid[]) AND g.kind = $2",
        [wrong_way],
        "POSTING",
    )
    await tamper(
        world.owner,
        "UPDATE ledger_entries e SET amount = -e.amount FROM postings g"
        " WHERE g.id = e.posting_id AND g.payment_id = ANY($1::uuid[]) AND g.kind = $2",
        [failed.id],
        "REVERSAL",
    )
    assert await ledger_mismatches(world.pool) == {
        str(wrong_way): "the posting moved 1250.00 EUR on the debtor's account, not -1250.00",
        str(failed.id): "the reversal moved -1250.00 EUR on the debtor's account, not 1250.00",
    }


async def test_the_ledger_must_credit_the_currency_s_clearing_account(world: World) -> None:
    """A credit leg on another customer's account instead: balanced, the right amount, the
    debtor charged once, and the money with someone it was never sent to."""
    elsewhere = (await world.drive(await world.create(), Status.COMPLETED)).id
    failed = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(failed, "NACK", reason_code="AC04")], world.ledger)
    for payment_id, kind in ((elsewhere, "POSTING"), (failed.id, "REVERSAL")):
        await tamper(
            world.owner,
            "UPDATE ledger_entries e SET account_id = (SELECT id FROM accounts WHERE account = $3)"
            " FROM postings g WHERE g.id = e.posting_id AND g.payment_id = $1 AND g.kind = $2"
            " AND e.account_id <> (SELECT id FROM accounts WHERE account = $4)",
            payment_id,
            kind,
            POOR,
            ACME,
        )
    assert await ledger_mismatches(world.pool) == {
        str(elsewhere): "the posting moved 0 EUR on the clearing account, not 1250.00",
        str(failed.id): "the reversal moved 0 EUR on the clearing account, not -1250.00",
    }


async def test_balances_are_checked_against_the_opening_and_the_entries(world: World) -> None:
    """A balance moved by hand (an UPDATE the database allows) is found; one that postings
    moved is explained by its entries; an account paywire did not seed has no audited opening
    balance to check against, and says so."""
    seed = {
        "operators": [],
        "accounts": [
            {"account": "ACC-BAL-1", "name": "Seeded", "currency": "EUR", "balance": "100.00"}
        ],
    }
    await seeding.seed_file(world.pool, seed, hasher=CHEAP_HASHER)
    debtor = {"name": "Seeded", "account": "ACC-BAL-1"}
    await world.drive(await world.create(amount="30.00", debtor=debtor), Status.COMPLETED)
    failed = await world.drive(await world.create(amount="5.00", debtor=debtor), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(failed, "NACK", reason_code="AC04")], world.ledger)

    accounts, breaks = await reconciliation.balances(world.pool)
    assert accounts == 5  # the world's three, the seeded one, EUR's clearing account
    assert {b.account: b.opening for b in breaks} == {ACME: None, POOR: None, YANKEE: None}

    await world.pool.execute(
        "UPDATE accounts SET balance = balance + 5000 WHERE account = 'ACC-BAL-1'"
    )
    _, breaks = await reconciliation.balances(world.pool)
    (moved,) = [b.as_dict() for b in breaks if b.opening is not None]
    assert moved == {
        "account": "ACC-BAL-1",
        "currency": "EUR",
        "balance": "5070.00",
        "opening": "100.00",
        "entries": "-30.00",
        "difference": "5000.00",
    }


async def test_aging_lists_what_is_outstanding_by_age(world: World) -> None:
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    await reconciliation.sweep(world.pool, answer_window=NOW)
    assert by_category(await aging(world.pool, 0)) == expected(breaks)
    assert await aging(world.pool, 1) == []
    later = datetime.now(UTC) + timedelta(days=3)
    assert by_category(await aging(world.pool, 2, as_of=later)) == expected(breaks)


async def test_the_sweep_opens_each_exception_once_and_sets_the_gauges(world: World) -> None:
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    first = await reconciliation.sweep(world.pool, answer_window=NOW)
    # The orphan's was open already; ACK_MISSING is the pipeline's, once it stops resending.
    assert (first.unmatched, first.opened) == (4, 2)
    assert metric("reconciliation_unmatched_items") == 4
    assert metric("exceptions_open") == 3
    assert await AckMissing(world.pool, max_attempts=1, answer_wait=timedelta(0)).step(10) == 1
    assert metric("exceptions_open") == 4
    again = await reconciliation.sweep(world.pool, answer_window=NOW)
    assert (again.unmatched, again.opened) == (4, 0)

    queue = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    kinds = {e.kind: e.payment_id or e.msg_id for e in queue}
    assert kinds == {
        "ACK_MISSING": breaks.missing_ack,
        "LEDGER_MISMATCH": breaks.ledger_mismatch,
        "MISSING_REVERSAL": breaks.missing_reversal,
        "ORPHAN_ACK": breaks.orphan_msg_id,
    }
    assert {i["exception_id"] for i in await unmatched(world.pool)} == {e.id for e in queue}


async def test_a_resolved_exception_reconciles_its_item_by_hand(world: World) -> None:
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    await reconciliation.sweep(world.pool, answer_window=NOW)
    (orphan,) = await exception_queue.list_exceptions(world.pool, limit=10, kind="ORPHAN_ACK")
    await exception_queue.resolve_exception(
        world.pool, orphan.id, world.admin, "receiver confirms: a test message of theirs"
    )
    report = await daily(world.pool, await made_on(world.pool))
    assert "ORPHAN_ACK" not in by_category(report["unmatched"])
    assert report["totals"]["unmatched"] == 3
    swept = await reconciliation.sweep(world.pool, answer_window=NOW)
    assert (swept.unmatched, swept.opened) == (3, 0)  # not opened again
    assert metric("exceptions_open") == 2  # LEDGER_MISMATCH, MISSING_REVERSAL
    assert breaks.orphan_msg_id not in {i["msg_id"] for i in await aging(world.pool, 0)}


async def resolved_elsewhere(conn: Conn, payment_id: UUID) -> None:
    """Another gateway's sweep opened the break's exception, and an operator resolved it."""
    opened = await conn.fetchval(
        "INSERT INTO exceptions (kind, payment_id, detail)"
        " VALUES ('LEDGER_MISMATCH', $1, 'found by another gateway') RETURNING id",
        payment_id,
    )
    await conn.execute(
        "UPDATE exceptions SET state = 'RESOLVED', resolved_at = now(), resolved_by = 'admin',"
        " note = 'posting corrected with the debtor''s bank' WHERE id = $1",
        opened,
    )


async def mended(conn: Conn, payment_id: UUID) -> None:
    """The posting `one_of_each` altered is put right, behind the triggers' back as it was."""
    await conn.execute("SET LOCAL session_replication_role = replica")
    await conn.execute(
        "UPDATE ledger_entries e SET amount = e.amount + sign(e.amount) FROM postings g"
        " WHERE g.id = e.posting_id AND g.payment_id = $1 AND g.kind = 'POSTING'",
        payment_id,
    )


MEANWHILE = {"resolved": resolved_elsewhere, "mended": mended}


@pytest.mark.parametrize("meanwhile", sorted(MEANWHILE))
async def test_the_sweep_opens_nothing_for_an_item_dealt_with_after_its_snapshot(
    world: World, meanwhile: str
) -> None:
    """A sweep reads its items in one snapshot, which a long one holds for minutes, and opens
    their exceptions after: what was dealt with in between must not be opened again. Here the
    other transaction holds the exceptions table until the sweep, its snapshot read, waits to
    open, so the order is the same every run."""
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    async with world.owner.acquire() as other, other.transaction():
        await other.execute("LOCK TABLE exceptions IN EXCLUSIVE MODE")
        sweeping = asyncio.create_task(reconciliation.sweep(world.pool, answer_window=NOW))
        await poll(lambda: lock_waiters(world.pool), what="the sweep waiting to open")
        await MEANWHILE[meanwhile](other, breaks.ledger_mismatch)
    swept = await sweeping
    assert (swept.unmatched, swept.opened) == (4, 1)  # the missing reversal's, only
    opened = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    assert {e.kind for e in opened} == {"MISSING_REVERSAL", "ORPHAN_ACK"}
    again = await reconciliation.sweep(world.pool, answer_window=NOW)
    assert (again.unmatched, again.opened) == (3, 0)


async def test_a_resolution_covers_the_ledger_as_it_stood(world: World) -> None:
    """An operator resolved a payment's ledger break; a reversal made for it afterwards takes
    the money back from a COMPLETED payment, a new break the old resolution must not hide."""
    breaks = await one_of_each(world.pool, world.owner, await world.approved(AMOUNTS))
    await reconciliation.sweep(world.pool, answer_window=NOW)
    (mismatch,) = await exception_queue.list_exceptions(
        world.pool, limit=10, kind="LEDGER_MISMATCH"
    )
    await exception_queue.resolve_exception(
        world.pool, mismatch.id, world.admin, "posting corrected with the debtor's bank"
    )
    assert "LEDGER_MISMATCH" not in by_category(await unmatched(world.pool))

    await world.ledger.reverse(world.pool, [breaks.ledger_mismatch])
    items = await unmatched(world.pool)
    assert by_category(items)["LEDGER_MISMATCH"] == str(breaks.ledger_mismatch)
    swept = await reconciliation.sweep(world.pool, answer_window=NOW)
    assert swept.opened == 1
    (reopened,) = await exception_queue.list_exceptions(
        world.pool, limit=10, kind="LEDGER_MISMATCH", state="OPEN"
    )
    assert (reopened.payment_id, reopened.id != mismatch.id) == (breaks.ledger_mismatch, True)


@pytest.mark.parametrize(("first", "then"), [("ACK", "NACK"), ("NACK", "ACK")])
async def test_a_payment_settled_with_the_other_answer_on_record_too_is_unmatched(
    world: World, first: str, then: str
) -> None:
    """The ledger follows the first answer; the other on record too means one of them is wrong
    (and maybe the money): an item until an operator resolves it. An answer naming another UETR
    was never this payment's."""
    status = "COMPLETED" if first == "ACK" else "FAILED"
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(payment, first, reason_code="AC04")], world.ledger)
    foreign = answer(payment, then, uetr="00000000-0000-4000-8000-000000000000")
    for stored in (foreign, answer(payment, then)):
        assert await unmatched(world.pool) == []
        # Stored as the settler stores every answer, but without its exception: the rule alone.
        async with world.pool.acquire() as conn, conn.transaction():
            await messages.insert_answers(conn, [stored], [payment.id])
    (item,) = await unmatched(world.pool)
    assert (item["category"], item["payment_id"], item["exception_id"]) == (
        "MISSING_ACK", str(payment.id), None,
    )  # fmt: skip
    assert item["detail"] == (
        f"{status}, and a{'n' if then == 'ACK' else ''} {then} on record too: "
        "the answers contradict each other"
    )
    swept = await reconciliation.sweep(world.pool, answer_window=NOW)
    (opened,) = await exception_queue.list_exceptions(world.pool, limit=10, state="OPEN")
    assert (swept.opened, opened.kind, opened.payment_id) == (1, "ACK_MISSING", payment.id)
    await exception_queue.resolve_exception(
        world.pool, opened.id, world.admin, "receiver confirms the first answer"
    )
    assert await unmatched(world.pool) == []


async def test_a_resolution_covers_the_answers_as_they_stood(world: World) -> None:
    """An operator resolved a payment's ACK_MISSING once it had completed; a NACK received for
    it afterwards contradicts the ACK it completed on, a new break the old resolution must not
    hide. (The settler raises a contradiction it settles itself; one kept while the message was
    not sent yet, before the ACK, reaches the report only through this rule.)"""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.settle(world.pool, [answer(payment, "ACK")], world.ledger)
    (opened,) = await pipeline.open_exceptions(
        world.pool,
        [NewException(ACK_MISSING, payment.id, payment.msg_id, "5 transmissions unanswered")],
    )
    await exception_queue.resolve_exception(
        world.pool, opened.id, world.admin, "receiver confirms the ACK"
    )
    assert await unmatched(world.pool) == []

    async with world.pool.acquire() as conn, conn.transaction():
        await messages.insert_answers(conn, [answer(payment, "NACK")], [payment.id])
    (item,) = await unmatched(world.pool)
    assert (item["category"], item["payment_id"], item["exception_id"]) == (
        "MISSING_ACK", str(payment.id), None,
    )  # fmt: skip
    swept = await reconciliation.sweep(world.pool, answer_window=NOW)
    assert swept.opened == 1


async def test_amounts_per_currency_keep_their_minor_digits(world: World) -> None:
    for amount, currency, account in (("10.50", "EUR", None), ("7.25", "USD", YANKEE)):
        changes: dict[str, Any] = {"amount": amount, "currency": currency}
        if account:
            changes["debtor"] = {"name": "Yankee", "account": account}
        await world.drive(await world.create(**changes), Status.COMPLETED)
    # One day's list, or the EUR day's then the USD day's if they were made across midnight.
    by_currency = [row for report in await reports(world.pool) for row in report["by_currency"]]
    assert by_currency == [
        {"currency": "EUR", "payments": 1, "amount": "10.50", "matched": 1, "unmatched": 0},
        {"currency": "USD", "payments": 1, "amount": "7.25", "matched": 1, "unmatched": 0},
    ]
    assert Decimal(by_currency[0]["amount"]) == Decimal("10.5")


async def _without_posting(world: World, payment_id: UUID, *, entered_ago: timedelta) -> None:
    """A COMPLETED payment's posting removed, and the payment entered `entered_ago`."""
    await tamper(
        world.owner,
        "WITH gone AS (DELETE FROM postings WHERE payment_id = $1 RETURNING id) "
        "DELETE FROM ledger_entries WHERE posting_id IN (SELECT id FROM gone)",
        payment_id,
    )
    await tamper(
        world.owner,
        "UPDATE payments SET created_at = created_at - $2::interval WHERE id = $1",
        payment_id,
        entered_ago,
    )


async def _changed_ago(world: World, payment_id: UUID, ago: timedelta) -> None:
    """The payment's changes made `ago` earlier than they were, as its audit rows tell."""
    await tamper(
        world.owner,
        "UPDATE audit_logs SET timestamp = timestamp - $2::interval"
        " WHERE entity = 'payment' AND entity_id = $1",
        str(payment_id),
        ago,
    )


async def test_the_sweep_sees_an_old_payment_that_moved_within_the_hour(world: World) -> None:
    """Entered days ago, approved and settled now: the break is new, whatever the payment's day
    of entry, whose close has long run."""
    payment = await world.drive(await world.create(), Status.COMPLETED)
    await _without_posting(world, payment.id, entered_ago=timedelta(days=3))
    assert await reconciliation.sweep(world.pool, answer_window=NOW) == reconciliation.Sweep(1, 1)


async def test_a_gateway_s_first_sweep_sees_what_moved_while_no_sweep_got_through(
    world: World, tmp_path: Path
) -> None:
    """Entered days ago and broken three hours ago, while the sweeps failed (the database away,
    every gateway down): a fixed hour back never saw it again, and its day was closed long
    before. A gateway's first sweep looks back a day; later ones from the last that got
    through."""
    payment = await world.drive(await world.create(), Status.COMPLETED)
    await _without_posting(world, payment.id, entered_ago=timedelta(days=3))
    await _changed_ago(world, payment.id, timedelta(hours=3))
    assert await reconciliation.sweep(world.pool, answer_window=NOW) == reconciliation.Sweep(0, 0)
    housekeeping = Housekeeping(load_settings(environ={}, log_dir=tmp_path), world.pool)
    housekeeping.start()
    try:
        await poll(
            lambda: exception_queue.list_exceptions(world.pool, limit=10, kind="LEDGER_MISMATCH"),
            10,
            what="the break found by the first sweep",
        )
    finally:
        await housekeeping.stop()
    (item,) = await exception_queue.list_exceptions(world.pool, limit=10, kind="LEDGER_MISMATCH")
    assert item.payment_id == payment.id


async def test_the_sweep_closes_a_whole_day(world: World) -> None:
    payment = await world.drive(await world.create(), Status.COMPLETED)
    await _without_posting(world, payment.id, entered_ago=timedelta(days=1))
    # Its changes too are older than the sweep's hour.
    await _changed_ago(world, payment.id, timedelta(days=1))
    assert await reconciliation.sweep(world.pool, answer_window=NOW) == reconciliation.Sweep(0, 0)
    yesterday = payment.created_at.date() - timedelta(days=1)
    closed = await reconciliation.sweep(world.pool, answer_window=NOW, close_day=yesterday)
    assert closed == reconciliation.Sweep(1, 1)
    (item,) = await exception_queue.list_exceptions(world.pool, limit=10, kind="LEDGER_MISMATCH")
    assert (item.payment_id, item.detail) == (payment.id, "no posting for a COMPLETED payment")
    # Open now, the item is outstanding: every later sweep counts it.
    assert await reconciliation.sweep(world.pool, answer_window=NOW) == reconciliation.Sweep(1, 0)


async def test_a_receiver_s_formula_reaches_the_csv_as_text(world: World) -> None:
    """An orphan answer's MsgId is the receiver's text (printable, at most 35 characters): in the
    CSV it must not be a cell a spreadsheet runs as a formula when an ADMIN opens the report."""
    formula = '=HYPERLINK("http://x.example/","a")'
    await pipeline.settle(world.pool, [answer(formula, "ACK")], world.ledger)
    (day,) = await stored_days(world.pool)  # the orphan's
    (item,) = (await daily(world.pool, day))["unmatched"]
    assert (item["category"], item["msg_id"]) == ("ORPHAN_ACK", formula), "JSON keeps it as sent"
    (row,) = await daily_csv(world.pool, day)
    assert row["msg_id"] == f"'{formula}"
