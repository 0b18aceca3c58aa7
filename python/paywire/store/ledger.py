"""The built-in ledger adapter: accounts and double-entry postings in PostgreSQL.

A batch is locked, checked and written with set-based statements; a hot account (the clearing
account of a currency) gets one balance update per batch, not one per payment.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from uuid import UUID

from paywire.domain.accounts import (
    CLEARING,
    Account,
    LedgerEntry,
    PostingRequest,
    clearing_account,
)
from paywire.domain.payment import Reason
from paywire.store.tx import Conn, Record

INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"

_ACCOUNT_COLUMNS = "id, account, name, currency, balance, overdraft, kind"

_WRITE = """
WITH p AS (
    INSERT INTO postings (id, payment_id, kind)
    SELECT id, payment_id, $1 FROM unnest($2::uuid[], $3::uuid[]) AS p(id, payment_id)
), e AS (
    INSERT INTO ledger_entries (posting_id, account_id, amount, currency)
    SELECT * FROM unnest($4::uuid[], $5::uuid[], $6::numeric[], $7::text[])
)
UPDATE accounts a SET balance = a.balance + d.delta, updated_at = now()
FROM unnest($8::uuid[], $9::numeric[]) AS d(id, delta)
WHERE a.id = d.id
"""


def to_account(row: Record) -> Account:
    return Account(
        id=row["id"],
        account=row["account"],
        name=row["name"],
        currency=row["currency"],
        balance=row["balance"],
        overdraft=row["overdraft"],
        kind=row["kind"],
    )


class PostgresLedger:
    """The ledger inside paywire's own database; joins the caller's transaction."""

    async def post(self, conn: Conn, requests: Sequence[PostingRequest]) -> dict[UUID, Reason]:
        """Post every request that the debtor's balance (or overdraft) covers, in order; returns
        the refused ones with their reason."""
        if not requests:
            return {}
        accounts = await self._lock_accounts(conn, requests)
        clearing = {a.currency: a for a in accounts.values() if a.kind == CLEARING}
        balances = {a.id: a.balance for a in accounts.values()}
        refused: dict[UUID, Reason] = {}
        legs: list[tuple[UUID, UUID, Decimal, str]] = []
        postings: list[tuple[UUID, UUID]] = []
        for request in requests:
            debtor = accounts.get(request.account)
            if debtor is None or debtor.kind == CLEARING or debtor.currency != request.currency:
                refused[request.payment_id] = Reason(
                    UNKNOWN_ACCOUNT, f"{request.account} is no {request.currency} ledger account"
                )
                continue
            if not debtor.overdraft and balances[debtor.id] < request.amount:
                refused[request.payment_id] = Reason(
                    INSUFFICIENT_FUNDS, f"the balance of {request.account} does not cover it"
                )
                continue
            posting_id = uuid.uuid4()
            postings.append((posting_id, request.payment_id))
            credit = clearing[request.currency]
            legs.append((posting_id, debtor.id, -request.amount, request.currency))
            legs.append((posting_id, credit.id, request.amount, request.currency))
            balances[debtor.id] -= request.amount
            balances[credit.id] += request.amount
        await _write(conn, "POSTING", postings, legs)
        return refused

    async def reverse(self, conn: Conn, payment_ids: Sequence[UUID]) -> list[UUID]:
        """Post the exact opposite of each payment's posting; returns the payments reversed
        (those posted and not reversed before)."""
        rows = await conn.fetch(
            """
            SELECT p.payment_id, e.account_id, e.amount, e.currency
            FROM postings p JOIN ledger_entries e ON e.posting_id = p.id
            WHERE p.payment_id = ANY($1::uuid[]) AND p.kind = 'POSTING'
              AND NOT EXISTS (SELECT 1 FROM postings r
                              WHERE r.payment_id = p.payment_id AND r.kind = 'REVERSAL')
            ORDER BY e.id
            """,
            payment_ids,
        )
        if not rows:
            return []
        # Lock in id order first, as post does, so the two never deadlock.
        await conn.execute(
            "SELECT 1 FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            list({row["account_id"] for row in rows}),
        )
        reversal = {pid: uuid.uuid4() for pid in dict.fromkeys(r["payment_id"] for r in rows)}
        legs = [
            (reversal[r["payment_id"]], r["account_id"], -r["amount"], r["currency"]) for r in rows
        ]
        await _write(conn, "REVERSAL", [(rid, pid) for pid, rid in reversal.items()], legs)
        return list(reversal)

    async def _lock_accounts(
        self, conn: Conn, requests: Sequence[PostingRequest]
    ) -> dict[str, Account]:
        """The debtors' and the clearing accounts, locked in id order; clearing accounts are
        opened the first time a currency is posted.

        They are opened before any account is locked: opened after the debtors' locks, a second
        locking pass would ask for a clearing account that a transaction which saw it first had
        already locked, while that one waited for a debtor this one held (a deadlock at every
        currency's first postings). Opening one that exists writes nothing."""
        debtors = sorted({r.account for r in requests})
        currencies = sorted({r.currency for r in requests})
        await open_clearing_accounts(conn, currencies)
        rows = await conn.fetch(
            f"""
            SELECT {_ACCOUNT_COLUMNS} FROM accounts
            WHERE account = ANY($1::text[]) OR (kind = 'CLEARING' AND currency = ANY($2::text[]))
            ORDER BY id FOR UPDATE
            """,
            debtors,
            currencies,
        )
        return {row["account"]: to_account(row) for row in rows}


async def _write(
    conn: Conn,
    kind: str,
    postings: Sequence[tuple[UUID, UUID]],
    legs: Sequence[tuple[UUID, UUID, Decimal, str]],
) -> None:
    if not postings:
        return
    deltas: dict[UUID, Decimal] = defaultdict(Decimal)
    for _, account_id, amount, _ in legs:
        deltas[account_id] += amount
    await conn.execute(
        _WRITE,
        kind,
        [posting_id for posting_id, _ in postings],
        [payment_id for _, payment_id in postings],
        [leg[0] for leg in legs],
        [leg[1] for leg in legs],
        [leg[2] for leg in legs],
        [leg[3] for leg in legs],
        list(deltas),
        list(deltas.values()),
    )


async def open_clearing_accounts(conn: Conn, currencies: Iterable[str]) -> None:
    """The clearing account of each currency, unless it exists."""
    currencies = sorted(set(currencies))
    await conn.execute(
        """
        INSERT INTO accounts (account, name, currency, kind)
        SELECT a, 'Clearing ' || c, c, 'CLEARING' FROM unnest($1::text[], $2::text[]) AS x(a, c)
        ON CONFLICT DO NOTHING
        """,
        [clearing_account(c) for c in currencies],
        currencies,
    )


async def accounts(conn: Conn) -> list[Account]:
    rows = await conn.fetch(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY kind DESC, account")
    return [to_account(row) for row in rows]


async def account(conn: Conn, account_id: UUID) -> Account | None:
    """The account with this id (`Account.id`)."""
    row = await conn.fetchrow(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", account_id)
    return to_account(row) if row else None


async def lock_accounts(conn: Conn, accounts: Iterable[str]) -> None:
    """Lock the accounts with these `account` values that exist, in id order, as postings lock
    them."""
    await conn.execute(
        "SELECT 1 FROM accounts WHERE account = ANY($1::text[]) ORDER BY id FOR UPDATE",
        sorted(set(accounts)),
    )


async def find_account(conn: Conn, account: str) -> Account | None:
    """The account whose `account` (IBAN or other identifier, as operators know it) this is."""
    row = await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account = $1", account
    )
    return to_account(row) if row else None


async def insert_account(
    conn: Conn,
    account: str,
    name: str,
    currency: str,
    balance: Decimal,
    overdraft: bool,
    kind: str,
) -> UUID:
    account_id: UUID = await conn.fetchval(
        "INSERT INTO accounts (account, name, currency, balance, overdraft, kind)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        account,
        name,
        currency,
        balance,
        overdraft,
        kind,
    )
    return account_id


async def posted_to(conn: Conn, account_id: UUID) -> tuple[int, Decimal]:
    """How many ledger entries an account has, archived ones included, and their sum."""
    row = await conn.fetchrow(
        "SELECT count(*) AS entries, coalesce(sum(amount), 0) AS posted"
        " FROM ledger_entries_all WHERE account_id = $1",
        account_id,
    )
    assert row is not None  # an aggregate has a row
    return row["entries"], row["posted"]


async def update_account(
    conn: Conn, account_id: UUID, *, name: str, balance: Decimal, overdraft: bool
) -> None:
    await conn.execute(
        "UPDATE accounts SET name = $2, balance = $3, overdraft = $4, updated_at = now()"
        " WHERE id = $1",
        account_id,
        name,
        balance,
        overdraft,
    )


async def entries(
    conn: Conn, account_id: UUID, *, limit: int, after: int | None = None
) -> list[LedgerEntry]:
    """An account's entries, newest first; `after` is the id of the previous page's last one."""
    rows = await conn.fetch(
        """
        SELECT e.id, e.posting_id, p.payment_id, p.kind, e.amount, e.currency, e.created_at
        FROM ledger_entries e JOIN postings p ON p.id = e.posting_id
        WHERE e.account_id = $1 AND ($2::bigint IS NULL OR e.id < $2)
        ORDER BY e.id DESC
        LIMIT $3
        """,
        account_id,
        after,
        limit,
    )
    return [
        LedgerEntry(
            id=row["id"],
            posting_id=row["posting_id"],
            payment_id=row["payment_id"],
            kind=row["kind"],
            amount=row["amount"],
            currency=row["currency"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
