"""Seeding: the demo set once, a seed file exactly and idempotently."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from paywire.domain.accounts import PostingRequest
from paywire.domain.identifiers import iban_problem
from paywire.domain.roles import Role
from paywire.domain.statuses import Status
from paywire.errors import AuthenticationError, Conflict, ValidationError
from paywire.services import auth, pipeline, seeding
from paywire.services.passwords import hash_password
from paywire.store import ledger
from paywire.store import operators as operator_store
from paywire.store.tx import Pool
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import ACME, CHEAP_HASHER, COMPOSE, POOR, YANKEE, World


def seed_file(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "operators": [
            {"username": "olga", "password": "olga's long secret", "roles": ["MAKER"]},
            {"username": "pete", "password": "pete's long secret", "roles": ["CHECKER", "AUDITOR"]},
        ],
        "accounts": [
            {
                "account": "DE89370400440532013000",
                "name": "ACME GmbH",
                "currency": "EUR",
                "balance": "1000.00",
                "overdraft": False,
            },
            {"account": "ACC-7", "name": "Initech KK", "currency": "JPY", "balance": "500"},
        ],
    }
    data.update(changes)
    return data


async def _session(pool: Pool, username: str, password: str) -> auth.Session:
    return await auth.login(pool, username, password, token_ttl_s=60, hasher=CHEAP_HASHER)


async def _login(pool: Pool, username: str, password: str) -> str:
    return (await _session(pool, username, password)).operator.username


async def test_the_demo_seed_creates_once_and_shows_passwords_once(db_pool: Pool) -> None:
    first = await seeding.seed_demo(db_pool, hasher=CHEAP_HASHER)
    assert set(first.passwords) == {name for name, _ in seeding.DEMO_OPERATORS}
    assert await _login(db_pool, "checker", first.passwords["checker"]) == "checker"
    async with db_pool.acquire() as conn:
        accounts = await ledger.accounts(conn)
    customers = [a for a in accounts if a.kind == "CUSTOMER"]
    assert {a.currency for a in customers} == {"EUR", "USD", "GBP", "JPY"}
    assert all(iban_problem(a.account) is None for a in customers)
    assert {a.account for a in accounts if a.kind == "CLEARING"} == {
        f"CLEARING-{c}" for c in ("EUR", "USD", "GBP", "JPY")
    }
    again = await seeding.seed_demo(db_pool, hasher=CHEAP_HASHER)
    assert (again.changed, again.passwords) == (False, {})
    assert await _login(db_pool, "checker", first.passwords["checker"]) == "checker"


async def test_a_seed_file_is_applied_exactly_and_idempotently(db_pool: Pool) -> None:
    report = await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    assert sorted(report.created) == sorted(
        ["operator olga", "operator pete", "account DE89370400440532013000", "account ACC-7"]
    )
    assert report.passwords == {}
    assert await _login(db_pool, "pete", "pete's long secret") == "pete"
    # The file's passwords are the installer's: each operator chooses their own first.
    required = dict(await db_pool.fetch("SELECT username, password_change_required FROM operators"))
    assert required == {"olga": True, "pete": True}
    async with db_pool.acquire() as conn:
        accounts = await ledger.accounts(conn)
        audited = await conn.fetchval("SELECT count(*) FROM audit_logs WHERE operator = 'system'")
    assert {(a.account, a.balance) for a in accounts} == {
        ("DE89370400440532013000", Decimal("1000.00")),
        ("ACC-7", Decimal("500")),
    }
    assert audited == 4
    again = await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    assert not again.changed
    assert len(again.unchanged) == 4


async def test_a_changed_file_brings_operators_and_accounts_in_line(db_pool: Pool) -> None:
    await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    olga = await _session(db_pool, "olga", "olga's long secret")
    pete = await _session(db_pool, "pete", "pete's long secret")
    changed = seed_file()
    changed["operators"][0]["roles"] = ["MAKER", "CHECKER"]
    changed["operators"][1]["password"] = "pete's new long secret"
    changed["accounts"][1]["balance"] = "750"
    report = await seeding.seed_file(db_pool, changed, hasher=CHEAP_HASHER)
    assert sorted(report.updated) == ["account ACC-7", "operator olga", "operator pete"]
    assert await _login(db_pool, "pete", "pete's new long secret") == "pete"
    # A new password ends the sessions of the old one, as through the API; new roles do not.
    with pytest.raises(AuthenticationError):
        await auth.authenticate(db_pool, pete.token)
    assert (await auth.authenticate(db_pool, olga.token)).roles == {Role.MAKER, Role.CHECKER}
    # Neither has chosen their own yet: pete's new password is the installer's too.
    required = dict(await db_pool.fetch("SELECT username, password_change_required FROM operators"))
    assert required == {"olga": True, "pete": True}


async def test_the_same_file_again_keeps_the_passwords_the_operators_chose(db_pool: Pool) -> None:
    """A file's password is only for the first sign-in, which asks for one of the operator's
    own: run again, the same file must change nothing (neither give the file's back nor end the
    sessions of the new one), and a file with a new password still rotates it."""
    await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    first = await _session(db_pool, "olga", "olga's long secret")
    await auth.change_password(
        db_pool, first.operator, "olga's long secret", "olga's own secret", hasher=CHEAP_HASHER
    )
    own = await _session(db_pool, "olga", "olga's own secret")

    again = await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    assert not again.changed
    assert (await auth.authenticate(db_pool, own.token)).username == "olga"
    required = await db_pool.fetchval(
        "SELECT password_change_required FROM operators WHERE username = 'olga'"
    )
    assert required is False
    with pytest.raises(AuthenticationError):
        await _login(db_pool, "olga", "olga's long secret")

    rotated = seed_file()
    rotated["operators"][0]["password"] = "olga's rotated secret"
    report = await seeding.seed_file(db_pool, rotated, hasher=CHEAP_HASHER)
    assert report.updated == ["operator olga"]
    with pytest.raises(AuthenticationError):
        await auth.authenticate(db_pool, own.token)
    assert (
        await _session(db_pool, "olga", "olga's rotated secret")
    ).operator.password_change_required


async def test_a_file_s_password_an_operator_had_already_is_adopted_as_the_file_s(
    db_pool: Pool,
) -> None:
    """An ADMIN made olga with the password the file gives her (or a file did, before 0022):
    the file's first run changes nothing, and once she has chosen her own, the next keeps it."""
    async with db_pool.acquire() as conn:
        made = await hash_password("olga's long secret", CHEAP_HASHER)
        await operator_store.insert(conn, "olga", made, {Role.MAKER}, password_change_required=True)
    assert (
        "operator olga"
        in (await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)).unchanged
    )
    first = await _session(db_pool, "olga", "olga's long secret")
    await auth.change_password(
        db_pool, first.operator, "olga's long secret", "olga's own secret", hasher=CHEAP_HASHER
    )
    again = await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    assert "operator olga" in again.unchanged
    assert await _login(db_pool, "olga", "olga's own secret") == "olga"


async def test_balances_of_posted_accounts_are_not_overwritten(world: World) -> None:
    payment = await world.drive(await world.create(amount="10.00"), Status.POSTED)
    assert payment.status is Status.POSTED
    data = seed_file(operators=[])
    data["accounts"][0]["balance"] = "5.00"
    with pytest.raises(Conflict, match="only through postings"):
        await seeding.seed_file(world.pool, data, hasher=CHEAP_HASHER)
    assert await world.balance("DE89370400440532013000") == Decimal("999990.00")


def acme(**changes: Any) -> dict[str, Any]:
    """The seed file of the world's ACME account as it was opened, with `changes`."""
    account = {"account": ACME, "name": f"Account {ACME}", "currency": "EUR"}
    return {"operators": [], "accounts": [{**account, "balance": "1000000.00", **changes}]}


async def test_a_file_of_opening_balances_stays_idempotent_after_postings(world: World) -> None:
    assert not (await seeding.seed_file(world.pool, acme(), hasher=CHEAP_HASHER)).changed
    await world.drive(await world.create(amount="10.00"), Status.POSTED)
    again = await seeding.seed_file(world.pool, acme(), hasher=CHEAP_HASHER)
    assert (again.changed, again.unchanged) == (False, [f"account {ACME}"])
    renamed = await seeding.seed_file(world.pool, acme(name="ACME AG"), hasher=CHEAP_HASHER)
    assert renamed.updated == [f"account {ACME}"]
    assert (await world.account(ACME)).name == "ACME AG"
    assert await world.balance(ACME) == Decimal("999990.00")
    with pytest.raises(Conflict, match=r"opening balance is 1000000\.00"):
        await seeding.seed_file(world.pool, acme(balance="5.00"), hasher=CHEAP_HASHER)


async def test_an_overdrawn_account_keeps_its_overdraft_until_it_is_in_credit(
    world: World,
) -> None:
    """Refused by the database's own rule (a balance below zero needs the overdraft), the seed
    ended in a traceback and "unexpected CheckViolationError": it is refused, saying when the
    file's change can be made, and nothing changes."""
    poor = {"account": POOR, "name": f"Account {POOR}", "currency": "EUR", "balance": "100.00"}
    await seeding.seed_file(
        world.pool,
        {"operators": [], "accounts": [{**poor, "overdraft": True}]},
        hasher=CHEAP_HASHER,
    )
    debtor = {"name": "P", "account": POOR}
    await world.drive(await world.create(amount="150.00", debtor=debtor), Status.POSTED)
    assert await world.balance(POOR) == Decimal("-50.00")
    without = {"operators": [], "accounts": [{**poor, "overdraft": False}]}
    with pytest.raises(Conflict, match=r"is overdrawn \(-50\.00 EUR\); it can lose its overdraft"):
        await seeding.seed_file(world.pool, without, hasher=CHEAP_HASHER)
    assert (await world.account(POOR)).overdraft


async def test_a_seed_waiting_on_a_posting_keeps_what_the_posting_moved(world: World) -> None:
    """The seed locks the account while a posting holds it, and reads it once it is committed."""
    payment = await world.create(amount="10.00")
    async with world.pool.acquire() as conn:
        posting = conn.transaction()
        await posting.start()
        await world.ledger.post(conn, [PostingRequest(payment.id, ACME, Decimal("10.00"), "EUR")])
        seed = asyncio.create_task(
            seeding.seed_file(world.pool, acme(name="ACME AG"), hasher=CHEAP_HASHER)
        )
        await poll(lambda: lock_waiters(world.pool), what="the seed waiting for the posting")
        await posting.commit()
    assert (await seed).updated == [f"account {ACME}"]
    assert await world.balance(ACME) == Decimal("999990.00")


async def test_a_seed_beside_a_posting_takes_the_accounts_in_the_posting_s_order(
    world: World,
) -> None:
    """The file names the posting's two debtors in the opposite of their id order, with an
    account held elsewhere between them. Taken one by one in the file's order, the seed held the
    first and waited; the posting took the other (id order) and waited for the first; the seed
    then asked for the other: a deadlock. The seed now locks its accounts at once in id order."""
    low, high = await world.pool.fetchval(
        "SELECT array_agg(account ORDER BY id) FROM accounts WHERE account = ANY($1)", [ACME, POOR]
    )
    payments = [
        await world.drive(
            await world.create(amount="1.00", debtor={"name": "D", "account": debtor}),
            Status.SCREENED,
        )
        for debtor in (low, high)
    ]
    rows = await world.pool.fetch("SELECT account, currency, balance FROM accounts")
    file = {
        "operators": [],
        "accounts": [
            {"account": r["account"], "name": "renamed", "currency": r["currency"],
             "balance": str(r["balance"])}
            for number in (high, YANKEE, low)
            for r in rows
            if r["account"] == number
        ],
    }  # fmt: skip
    async with world.pool.acquire() as elsewhere, elsewhere.transaction():
        await elsewhere.execute("SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE", YANKEE)
        seed = asyncio.create_task(seeding.seed_file(world.pool, file, hasher=CHEAP_HASHER))
        await poll(lambda: lock_waiters(world.pool), what="the seed waiting for the account")
        posting = asyncio.create_task(
            pipeline.post(world.pool, [p.id for p in payments], world.ledger, COMPOSE)
        )

        async def posting_waits_or_is_done() -> bool:
            return posting.done() or await lock_waiters(world.pool) == 2

        await poll(posting_waits_or_is_done, what="the posting waiting or done")
    assert sorted((await seed).updated) == sorted(f"account {n}" for n in (high, YANKEE, low))
    await posting
    assert [(await world.reload(p)).status for p in payments] == [Status.POSTED] * 2


def test_clearing_account_ids_are_kept_for_paywire() -> None:
    data = seed_file(operators=[])
    data["accounts"][0]["account"] = "CLEARING-EUR"
    with pytest.raises(ValidationError) as raised:
        seeding.parse_seed_file(data)
    assert raised.value.details[0]["field"] == "accounts[0].account"


@pytest.mark.parametrize("number", ["D\u041589370400440532013000", "ACC\uff17"])
def test_seeded_account_ids_are_held_to_the_swift_set_as_payments_are(number: str) -> None:
    """A Cyrillic E or a full-width digit: the same refusal as at payment entry."""
    data = seed_file(operators=[])
    data["accounts"][0]["account"] = number
    with pytest.raises(ValidationError) as raised:
        seeding.parse_seed_file(data)
    (detail,) = raised.value.details
    assert detail["field"] == "accounts[0].account"
    assert "/ - ? : ( ) . , ' +" in detail["message"]


async def test_a_currency_cannot_change(db_pool: Pool) -> None:
    await seeding.seed_file(db_pool, seed_file(), hasher=CHEAP_HASHER)
    data = seed_file()
    data["accounts"][1]["currency"] = "EUR"
    with pytest.raises(Conflict, match="in JPY"):
        await seeding.seed_file(db_pool, data, hasher=CHEAP_HASHER)


def test_every_problem_of_a_file_is_named() -> None:
    data = seed_file()
    data["operators"][0]["roles"] = ["SUPERUSER"]
    data["operators"][1]["password"] = "short"
    data["accounts"][0]["account"] = "DE00370400440532013000"
    data["accounts"][1]["balance"] = "0.5"
    data["accounts"].append(dict(data["accounts"][1]))
    data["extra"] = 1
    with pytest.raises(ValidationError) as raised:
        seeding.parse_seed_file(data)
    fields = {d["field"] for d in raised.value.details}
    assert fields == {
        "operators[0].roles",
        "operators[1].password",
        "accounts[0].account",
        "accounts[1].balance",
        "accounts[2].balance",
        "extra",
    }
