"""SQL for reconciliation: every payment of a scope against its ledger entries and its answer.

One statement per scope, no round trip per payment, with plans linear in the scope's size; the
rules are spelled out in docs/RECONCILIATION.md and in the comments below.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from asyncpg.cursor import Cursor

from paywire.domain.reconciliation import (
    EXCEPTION_KIND,
    BalanceBreak,
    CurrencyTotals,
    DaySummary,
    Unmatched,
)
from paywire.store.exception_queue import COLUMNS as EXCEPTION_COLUMNS
from paywire.store.exception_queue import ExceptionItem, to_item
from paywire.store.tx import Conn, Record


@dataclass(frozen=True, slots=True)
class Created:
    """The payments created in [start, end), and the orphan answers received in it; no `end`
    means up to now."""

    start: datetime
    end: datetime | None = None

    @classmethod
    def day(cls, day: date) -> Created:
        start = datetime.combine(day, time(), UTC)
        return cls(start, start + timedelta(days=1) if day < date.max else None)


@dataclass(frozen=True, slots=True)
class Changed:
    """The payments created or moved in [start, end) (by their audit rows, which every change
    writes, on the log's time index), and the orphan answers received in it: a payment entered
    days ago and posted now is where a new break appears."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What may still be unmatched, whatever its day: TRANSMITTED payments, payments with an
    OPEN exception, and every orphan answer; with `before`, only those created (received)
    earlier."""

    before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Listed:
    """The payments and the orphan answers' MsgIds named: a second look at what a first found."""

    payment_ids: tuple[UUID, ...] = ()
    orphan_msg_ids: tuple[str, ...] = ()


# What a report or a sweep reads.
Scope = Created | Changed | Outstanding

# $1 is the moment the report is made, $2 how long an answer may take; $3 and $4 bound the
# scope's creation (or receipt) times, either may be null; for `Listed`, they are its lists.
_BOUNDS = (
    "({column} >= $3 OR $3::timestamptz IS NULL) AND ({column} < $4 OR $4::timestamptz IS NULL)"
)
# What the matching rules read of each payment in scope.
_SCOPE_COLUMNS = "id, status, amount, currency, msg_id, uetr, updated_at, debtor_account"
_PAYMENTS = {
    Created: f"""
        SELECT {_SCOPE_COLUMNS} FROM payments_all
        WHERE {_BOUNDS.format(column="created_at")}
    """,
    Changed: f"""
        SELECT {_SCOPE_COLUMNS} FROM payments
        WHERE id IN (SELECT entity_id::uuid FROM audit_logs
                     WHERE entity = 'payment' AND {_BOUNDS.format(column="timestamp")})
    """,
    Outstanding: f"""
        SELECT {_SCOPE_COLUMNS} FROM payments
        WHERE id IN (SELECT payment_id FROM payment_work WHERE status = 'TRANSMITTED'
                     UNION
                     SELECT payment_id FROM exceptions
                     WHERE state = 'OPEN' AND payment_id IS NOT NULL)
          AND {_BOUNDS.format(column="created_at")}
    """,
    Listed: f"SELECT {_SCOPE_COLUMNS} FROM payments_all WHERE id = ANY($3::uuid[])",
}
# Answers naming no message, one row per MsgId: received in the scope's bounds, or named.
_ORPHANS_OF = "SELECT msg_id, count(*) AS answers, min(received_at) AS since FROM answers"
_ORPHANS_RECEIVED = f"""
    {_ORPHANS_OF}
    WHERE payment_id IS NULL AND {_BOUNDS.format(column="received_at")}
    GROUP BY msg_id
"""
_ORPHANS = {
    Created: _ORPHANS_RECEIVED,
    Changed: _ORPHANS_RECEIVED,
    Outstanding: _ORPHANS_RECEIVED,
    Listed: f"{_ORPHANS_OF} WHERE payment_id IS NULL AND msg_id = ANY($4::text[]) GROUP BY msg_id",
}
_KIND_OF_CATEGORY = " ".join(f"WHEN '{c}' THEN '{k}'" for c, k in EXCEPTION_KIND.items())
_POSTED = "('POSTED', 'TRANSMITTED', 'COMPLETED', 'FAILED')"
_UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

_UNMATCHED = f"""
WITH scope AS MATERIALIZED ({{payments}}),
-- Each payment with its ledger, aggregated by payment rather than joined back to it, so no plan
-- can pair every payment with every aggregate. A posting's amount is the sum of its credit legs
-- (its debits mirror them); what it did to the debtor's account and to the currency's clearing
-- account is summed apart, so a posting that moved the money the wrong way, a reversal that took
-- it again, or a credit leg on some other account does not pass for one.
ledger AS (
    SELECT s.id, s.status, s.amount, s.currency, s.msg_id, s.uetr, s.updated_at,
           sum(e.amount) FILTER (WHERE g.kind = 'POSTING' AND e.amount > 0) AS posted,
           min(g.created_at) FILTER (WHERE g.kind = 'POSTING') AS posted_at,
           max(g.created_at) AS ledger_changed_at,
           sum(e.amount) FILTER (WHERE g.kind = 'REVERSAL' AND e.amount > 0) AS reversed,
           coalesce(sum(e.amount) FILTER (WHERE g.kind = 'POSTING' AND e.account_id = d.id), 0)
               AS debtor_posted,
           coalesce(sum(e.amount) FILTER (WHERE g.kind = 'REVERSAL' AND e.account_id = d.id), 0)
               AS debtor_reversed,
           coalesce(sum(e.amount) FILTER (WHERE g.kind = 'POSTING' AND e.account_id = c.id), 0)
               AS clearing_posted,
           coalesce(sum(e.amount) FILTER (WHERE g.kind = 'REVERSAL' AND e.account_id = c.id), 0)
               AS clearing_reversed,
           coalesce(bool_or(e.currency <> s.currency), false) AS foreign_currency
    FROM scope s
    LEFT JOIN accounts d ON d.account = s.debtor_account AND d.currency = s.currency
    LEFT JOIN accounts c ON c.kind = 'CLEARING' AND c.currency = s.currency
    LEFT JOIN postings_all g ON g.payment_id = s.id
    LEFT JOIN ledger_entries_all e ON e.posting_id = g.id
    GROUP BY s.id, s.status, s.amount, s.currency, s.msg_id, s.uetr, s.updated_at
),
-- Each payment against each rule, one column per category: null when the rule finds nothing.
checked AS (
    SELECT s.id, s.msg_id, s.updated_at, s.ledger_changed_at, a.answered_at,
        s.status = 'TRANSMITTED' AS awaiting_answer,
        -- Sent and unanswered once an answer was due; settled without the answer it needs; or
        -- settled with the other answer on record too (a receiver that said both, or a late
        -- answer contradicting an operator's mark_settled): the ledger follows the first.
        CASE
            WHEN s.status = 'TRANSMITTED'
                 AND coalesce(m.first_sent_at, s.updated_at) <= $1::timestamptz - $2::interval
                THEN 'no answer to ' || coalesce(m.attempts, 0) || ' transmission(s) since '
                     || {_UTC_TEXT.format("coalesce(m.first_sent_at, s.updated_at)")}
            WHEN s.status = 'COMPLETED' AND NOT coalesce(a.acked, false)
                THEN 'COMPLETED without an ACK on record'
            WHEN s.status = 'FAILED' AND NOT coalesce(a.nacked, false)
                THEN 'FAILED without a NACK on record'
            WHEN s.status = 'COMPLETED' AND a.nacked
                THEN 'COMPLETED, and a NACK on record too: the answers contradict each other'
            WHEN s.status = 'FAILED' AND a.acked
                THEN 'FAILED, and an ACK on record too: the answers contradict each other'
        END AS missing_ack,
        CASE WHEN s.status = 'TRANSMITTED' THEN coalesce(m.first_sent_at, s.updated_at)
             ELSE s.updated_at END AS unanswered_since,
        -- The ledger disagrees with the payment: posting missing, unexpected, or of another
        -- amount or currency; a reversal without a NACK, or of another amount.
        CASE
            WHEN s.status IN {_POSTED} AND s.posted IS NULL
                THEN 'no posting for a ' || s.status || ' payment'
            WHEN s.status NOT IN {_POSTED} AND s.posted IS NOT NULL
                THEN 'posted although the payment is ' || s.status
            WHEN s.posted <> s.amount
                THEN 'posted ' || s.posted || ' ' || s.currency || ', the payment is for '
                     || s.amount
            WHEN s.foreign_currency
                THEN 'ledger entries in a currency other than ' || s.currency
            WHEN s.posted IS NOT NULL AND s.debtor_posted <> -s.amount
                THEN 'the posting moved ' || s.debtor_posted || ' ' || s.currency
                     || ' on the debtor''s account, not -' || s.amount
            WHEN s.posted IS NOT NULL AND s.clearing_posted <> s.amount
                THEN 'the posting moved ' || s.clearing_posted || ' ' || s.currency
                     || ' on the clearing account, not ' || s.amount
            WHEN s.reversed IS NOT NULL AND s.status <> 'FAILED'
                THEN 'reversed although the payment is ' || s.status
            WHEN s.reversed <> s.amount
                THEN 'reversed ' || s.reversed || ' ' || s.currency || ', the payment is for '
                     || s.amount
            WHEN s.reversed IS NOT NULL AND s.debtor_reversed <> s.amount
                THEN 'the reversal moved ' || s.debtor_reversed || ' ' || s.currency
                     || ' on the debtor''s account, not ' || s.amount
            WHEN s.reversed IS NOT NULL AND s.clearing_reversed <> -s.amount
                THEN 'the reversal moved ' || s.clearing_reversed || ' ' || s.currency
                     || ' on the clearing account, not -' || s.amount
        END AS ledger_mismatch,
        coalesce(s.posted_at, s.updated_at) AS posted_at,
        CASE WHEN s.status = 'FAILED' AND s.reversed IS NULL
             THEN 'FAILED by a NACK and its posting not reversed' END AS missing_reversal
    FROM ledger s
    -- An answer naming another UETR is not one to this payment (the settler refused it).
    CROSS JOIN LATERAL (
        SELECT bool_or(kind = 'ACK') AS acked, bool_or(kind = 'NACK') AS nacked,
               max(received_at) AS answered_at
        FROM answers_all
        WHERE payment_id = s.id AND (uetr IS NULL OR uetr = s.uetr::text)
    ) AS a
    LEFT JOIN messages_all m ON m.payment_id = s.id
),
breaks AS (
    SELECT c.id AS payment_id, c.msg_id, b.category, b.detail, b.since, c.awaiting_answer,
           c.ledger_changed_at, c.answered_at
    FROM checked c
    CROSS JOIN LATERAL (VALUES
        ('MISSING_ACK', c.missing_ack, c.unanswered_since),
        ('LEDGER_MISMATCH', c.ledger_mismatch, c.posted_at),
        ('MISSING_REVERSAL', c.missing_reversal, c.updated_at)
    ) AS b(category, detail, since)
    WHERE coalesce(c.missing_ack, c.ledger_mismatch, c.missing_reversal) IS NOT NULL
      AND b.detail IS NOT NULL
    UNION ALL
    -- Answers naming no message we sent, one item per MsgId.
    SELECT NULL::uuid, o.msg_id, 'ORPHAN_ACK',
           CASE WHEN o.answers = 1 THEN 'an answer naming no message of ours'
                ELSE o.answers || ' answers naming no message of ours' END,
           o.since, false, NULL, NULL
    FROM ({{orphans}}) AS o
),
-- An item whose exception an operator resolved (and none is open again) was reconciled by hand,
-- as the ledger and the answers stood then: a posting or reversal made for the payment since is
-- a new break, and so, for MISSING_ACK, is an answer received since (one kept before the message
-- was sent stands beside the answer that later settled it).
flagged AS (
    SELECT b.*, x.open_id, x.resolved
    FROM breaks b
    CROSS JOIN LATERAL (
        SELECT max(e.id) FILTER (WHERE e.state = 'OPEN') AS open_id,
               coalesce(bool_or(e.state = 'RESOLVED'
                                AND (b.ledger_changed_at IS NULL
                                     OR e.resolved_at >= b.ledger_changed_at)
                                AND (b.category <> 'MISSING_ACK' OR b.answered_at IS NULL
                                     OR e.resolved_at >= b.answered_at)), false)
                   AS resolved
        FROM exceptions_all e
        WHERE e.kind = CASE b.category {_KIND_OF_CATEGORY} END
          AND ((b.payment_id IS NOT NULL AND e.payment_id = b.payment_id)
               OR (b.payment_id IS NULL AND e.payment_id IS NULL AND e.msg_id = b.msg_id))
    ) AS x
),
-- An exception is needed where none is open, unless the pipeline will open it: a TRANSMITTED
-- payment's ACK_MISSING, once the pipeline stops resending.
unmatched AS (
    SELECT payment_id, msg_id, category, detail, since, open_id AS exception_id,
           open_id IS NULL AND NOT (category = 'MISSING_ACK' AND awaiting_answer)
               AS needs_exception
    FROM flagged WHERE open_id IS NOT NULL OR NOT resolved
)
"""

_ITEMS = """
SELECT payment_id, msg_id, category, detail, since, exception_id, needs_exception
FROM unmatched
WHERE (since < $5 OR $5::timestamptz IS NULL)
ORDER BY since, category, payment_id, msg_id
"""

# A day's report in one statement: first its totals (`total`), one row per currency and one
# (currency null) counting the orphans; then its items, as _ITEMS orders them.
_DAY = """
, items_per_payment AS (
    SELECT payment_id, count(*) AS items FROM unmatched
    WHERE payment_id IS NOT NULL GROUP BY payment_id
),
totals AS (
    SELECT s.currency, count(*) AS payments, sum(s.amount) AS amount,
           count(*) FILTER (WHERE i.items IS NULL) AS matched,
           coalesce(sum(i.items), 0)::bigint AS unmatched
    FROM scope s LEFT JOIN items_per_payment i ON i.payment_id = s.id
    GROUP BY s.currency
    UNION ALL
    SELECT NULL, 0, 0, 0, count(*) FROM unmatched WHERE payment_id IS NULL
)
SELECT true AS total, currency, payments, amount, matched, unmatched,
       NULL::uuid AS payment_id, NULL::text AS msg_id, NULL::text AS category,
       NULL::text AS detail, NULL::timestamptz AS since, NULL::bigint AS exception_id,
       NULL::boolean AS needs_exception
FROM totals
UNION ALL
SELECT false, NULL, NULL, NULL, NULL, NULL,
       payment_id, msg_id, category, detail, since, exception_id, needs_exception
FROM unmatched
ORDER BY total DESC, currency NULLS LAST, since, category, payment_id, msg_id
"""


# The exceptions its items need, opened by the statement that finds them: a sweep's snapshot may
# be minutes old when it opens what it found, and an item mended since, or whose exception
# another gateway opened and an operator resolved meanwhile, must not get one. At most one is
# OPEN per kind and item (the unique index), whoever opens it.
_OPEN = f"""
INSERT INTO exceptions (kind, payment_id, msg_id, detail)
SELECT CASE category {_KIND_OF_CATEGORY} END, payment_id, msg_id, detail
FROM unmatched WHERE needs_exception
ORDER BY since, category, payment_id, msg_id
ON CONFLICT DO NOTHING
RETURNING {EXCEPTION_COLUMNS}
"""


def _statement(scope: type[Scope | Listed], tail: str) -> str:
    return _UNMATCHED.format(payments=_PAYMENTS[scope], orphans=_ORPHANS[scope]) + tail


_ITEMS_SQL = {scope: _statement(scope, _ITEMS) for scope in (Created, Changed, Outstanding)}
_DAY_SQL = _statement(Created, _DAY)
_OPEN_SQL = _statement(Listed, _OPEN)


def _bounds(scope: Scope) -> tuple[datetime | None, datetime | None]:
    if isinstance(scope, Outstanding):
        return None, scope.before
    return scope.start, scope.end


async def day_report(
    conn: Conn, day: date, *, as_of: datetime, answer_window: timedelta, prefetch: int = 1000
) -> tuple[DaySummary, AsyncGenerator[Unmatched, None]]:
    """A day's totals, and its unmatched items to read after them, from one statement through a
    cursor (the caller holds a transaction): per currency the day's payments, their sum, how
    many matched and how many items they gave."""
    cursor = await conn.cursor(_DAY_SQL, as_of, answer_window, *_bounds(Created.day(day)))
    totals: list[Record] = []
    while (row := await cursor.fetchrow()) is not None and row["total"]:
        totals.append(row)
    summary = DaySummary(
        day=day,
        as_of=as_of,
        by_currency=tuple(
            CurrencyTotals(r["currency"], r["payments"], r["amount"], r["matched"], r["unmatched"])
            for r in totals
            if r["currency"] is not None
        ),
        orphans=sum(r["unmatched"] for r in totals if r["currency"] is None),
    )
    return summary, _items(cursor, row, prefetch)


async def _items(
    cursor: Cursor[Record], first: Record | None, prefetch: int
) -> AsyncGenerator[Unmatched, None]:
    if first is None:
        return
    yield _item(first)
    while rows := await cursor.fetch(prefetch):
        for row in rows:
            yield _item(row)


async def unmatched(
    conn: Conn,
    scope: Scope,
    *,
    as_of: datetime,
    answer_window: timedelta,
    since_before: datetime | None = None,
    prefetch: int = 1000,
) -> AsyncGenerator[Unmatched, None]:
    """The scope's unmatched items, oldest first, through a cursor: the caller holds a
    transaction (repeatable read, to agree with a summary made in it). `since_before` keeps
    only items unmatched since before then (aging)."""
    query = _ITEMS_SQL[type(scope)]
    async for row in conn.cursor(
        query, as_of, answer_window, *_bounds(scope), since_before, prefetch=prefetch
    ):
        yield _item(row)


def _item(row: Record) -> Unmatched:
    return Unmatched(
        payment_id=row["payment_id"],
        msg_id=row["msg_id"],
        category=row["category"],
        detail=row["detail"],
        since=row["since"],
        exception_id=row["exception_id"],
        needs_exception=row["needs_exception"],
    )


async def open_needed(
    conn: Conn, listed: Listed, *, as_of: datetime, answer_window: timedelta
) -> list[ExceptionItem]:
    """Open the exceptions the listed items need as they stand now, in the caller's
    transaction; those opened."""
    rows = await conn.fetch(
        _OPEN_SQL,
        as_of,
        answer_window,
        list(listed.payment_ids),
        list(listed.orphan_msg_ids),
    )
    return [to_item(row) for row in rows]


# Every account against its ledger: the balance must be the opening balance plus the sum of its
# entries, archived ones included. Postings and reversals move a balance in the statement that
# writes its entries; anything else that moved it (an UPDATE by hand, a bug) shows here. The
# opening balance is the last one seeding set (`account.create` / `account.update` audit rows,
# which carry it as `balance`); a clearing account opens at zero.
_BALANCES = """
SELECT a.account, a.currency, a.balance, e.total AS entries,
       CASE WHEN a.kind = 'CLEARING' THEN 0 ELSE o.opening END AS opening,
       count(*) OVER () AS accounts
FROM accounts a
CROSS JOIN LATERAL (
    SELECT coalesce(sum(amount), 0) AS total FROM ledger_entries_all WHERE account_id = a.id
) AS e
LEFT JOIN LATERAL (
    SELECT (after ->> 'balance')::numeric AS opening FROM audit_logs
    WHERE entity = 'account' AND entity_id = a.id::text
      AND action IN ('account.create', 'account.update') AND after ? 'balance'
    ORDER BY id DESC LIMIT 1
) AS o ON true
ORDER BY a.kind, a.account
"""


async def balance_breaks(conn: Conn) -> tuple[int, list[BalanceBreak]]:
    """How many accounts there are, and those whose balance the ledger does not explain (or
    cannot, for want of an audited opening balance). Reads every entry: run it daily, not on
    every sweep."""
    rows = await conn.fetch(_BALANCES)
    breaks = [
        BalanceBreak(r["account"], r["currency"], r["balance"], r["opening"], r["entries"])
        for r in rows
        if r["opening"] is None or r["balance"] != r["opening"] + r["entries"]
    ]
    return (rows[0]["accounts"] if rows else 0), breaks
