"""SQL for reconciliation: every payment of a scope against its ledger entries and its answer.

One statement finds all unmatched items of a scope, set-based, so a day of a million payments is
one pass; the rules are spelled out in docs/RECONCILIATION.md and in the comments below.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from paywire.domain.reconciliation import (
    EXCEPTION_KIND,
    CurrencyTotals,
    DaySummary,
    Unmatched,
)
from paywire.store.tx import Conn


@dataclass(frozen=True, slots=True)
class Day:
    """The payments created on a UTC day, and the orphan answers received on it."""

    day: date


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What may still be unmatched, whatever its day: TRANSMITTED payments, payments with an
    OPEN exception, and every orphan answer; with `before`, only those created (received)
    earlier."""

    before: datetime | None = None


Scope = Day | Outstanding

# $1 is the scope's parameter, $2 the moment the report is made, $3 how long an answer may take.
_DAY_START = "$1::date::timestamp AT TIME ZONE 'UTC'"
_DAY_END = "($1::date + 1)::timestamp AT TIME ZONE 'UTC'"

_PAYMENTS = {
    Day: f"""
        SELECT id, status, amount, currency, msg_id, updated_at FROM payments_all
        WHERE created_at >= {_DAY_START} AND created_at < {_DAY_END}
    """,
    Outstanding: """
        SELECT id, status, amount, currency, msg_id, updated_at FROM payments
        WHERE id IN (SELECT id FROM payments WHERE status = 'TRANSMITTED'
                     UNION
                     SELECT payment_id FROM exceptions
                     WHERE state = 'OPEN' AND payment_id IS NOT NULL)
          AND ($1::timestamptz IS NULL OR created_at < $1)
    """,
}
_ORPHANS = {
    Day: f"""
        SELECT msg_id, count(*) AS answers, min(received_at) AS since FROM answers
        WHERE payment_id IS NULL AND received_at >= {_DAY_START} AND received_at < {_DAY_END}
        GROUP BY msg_id
    """,
    Outstanding: """
        SELECT msg_id, count(*) AS answers, min(received_at) AS since FROM answers
        WHERE payment_id IS NULL AND ($1::timestamptz IS NULL OR received_at < $1)
        GROUP BY msg_id
    """,
}
_KIND_OF_CATEGORY = " ".join(f"WHEN '{c}' THEN '{k}'" for c, k in EXCEPTION_KIND.items())
_POSTED = "('POSTED', 'TRANSMITTED', 'COMPLETED', 'FAILED')"
_UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

_UNMATCHED = f"""
WITH scope AS MATERIALIZED ({{payments}}),
-- A posting's amount is the sum of its credit legs (its debits mirror them).
ledger AS (
    SELECT g.payment_id,
           sum(e.amount) FILTER (WHERE g.kind = 'POSTING' AND e.amount > 0) AS posted,
           min(g.created_at) FILTER (WHERE g.kind = 'POSTING') AS posted_at,
           sum(e.amount) FILTER (WHERE g.kind = 'REVERSAL' AND e.amount > 0) AS reversed,
           bool_or(e.currency <> s.currency) AS foreign_currency
    FROM scope s
    JOIN postings_all g ON g.payment_id = s.id
    JOIN ledger_entries_all e ON e.posting_id = g.id
    GROUP BY g.payment_id
),
answered AS (
    SELECT a.payment_id, bool_or(a.kind = 'ACK') AS acked, bool_or(a.kind = 'NACK') AS nacked
    FROM scope s JOIN answers_all a ON a.payment_id = s.id
    GROUP BY a.payment_id
),
-- Each payment against each rule: a rule that finds nothing gives a null detail.
breaks AS (
    SELECT s.id AS payment_id, s.msg_id, s.currency, b.category, b.detail, b.since
    FROM scope s
    LEFT JOIN ledger l ON l.payment_id = s.id
    LEFT JOIN answered a ON a.payment_id = s.id
    LEFT JOIN messages_all m ON m.payment_id = s.id
    CROSS JOIN LATERAL (VALUES
        -- Sent and unanswered once an answer was due; or settled without the answer it needs.
        ('MISSING_ACK',
         CASE
             WHEN s.status = 'TRANSMITTED'
                  AND coalesce(m.first_sent_at, s.updated_at) <= $2::timestamptz - $3::interval
                 THEN 'no answer to ' || coalesce(m.attempts, 0) || ' transmission(s) since '
                      || {_UTC_TEXT.format("coalesce(m.first_sent_at, s.updated_at)")}
             WHEN s.status = 'COMPLETED' AND NOT coalesce(a.acked, false)
                 THEN 'COMPLETED without an ACK on record'
             WHEN s.status = 'FAILED' AND NOT coalesce(a.nacked, false)
                 THEN 'FAILED without a NACK on record'
         END,
         CASE WHEN s.status = 'TRANSMITTED' THEN coalesce(m.first_sent_at, s.updated_at)
              ELSE s.updated_at END),
        -- The ledger disagrees with the payment: posting missing, unexpected, or of another
        -- amount or currency; a reversal without a NACK, or of another amount.
        ('LEDGER_MISMATCH',
         CASE
             WHEN s.status IN {_POSTED} AND l.posted IS NULL
                 THEN 'no posting for a ' || s.status || ' payment'
             WHEN s.status NOT IN {_POSTED} AND l.posted IS NOT NULL
                 THEN 'posted although the payment is ' || s.status
             WHEN l.posted <> s.amount
                 THEN 'posted ' || l.posted || ' ' || s.currency || ', the payment is for '
                      || s.amount
             WHEN l.foreign_currency
                 THEN 'ledger entries in a currency other than ' || s.currency
             WHEN l.reversed IS NOT NULL AND s.status <> 'FAILED'
                 THEN 'reversed although the payment is ' || s.status
             WHEN l.reversed <> s.amount
                 THEN 'reversed ' || l.reversed || ' ' || s.currency || ', the payment is for '
                      || s.amount
         END,
         coalesce(l.posted_at, s.updated_at)),
        ('MISSING_REVERSAL',
         CASE WHEN s.status = 'FAILED' AND l.reversed IS NULL
              THEN 'FAILED by a NACK and its posting not reversed' END,
         s.updated_at)
    ) AS b(category, detail, since)
    WHERE b.detail IS NOT NULL
    UNION ALL
    -- Answers naming no message we sent, one item per MsgId.
    SELECT NULL::uuid, o.msg_id, NULL::text, 'ORPHAN_ACK',
           CASE WHEN o.answers = 1 THEN 'an answer naming no message of ours'
                ELSE o.answers || ' answers naming no message of ours' END,
           o.since
    FROM ({{orphans}}) AS o
),
-- An item whose exception an operator resolved (and none is open again) was reconciled by hand.
flagged AS (
    SELECT b.*, x.open_id, x.resolved
    FROM breaks b
    CROSS JOIN LATERAL (
        SELECT max(e.id) FILTER (WHERE e.state = 'OPEN') AS open_id,
               coalesce(bool_or(e.state = 'RESOLVED'), false) AS resolved
        FROM exceptions_all e
        WHERE e.kind = CASE b.category {_KIND_OF_CATEGORY} END
          AND ((b.payment_id IS NOT NULL AND e.payment_id = b.payment_id)
               OR (b.payment_id IS NULL AND e.payment_id IS NULL AND e.msg_id = b.msg_id))
    ) AS x
),
unmatched AS (
    SELECT payment_id, msg_id, currency, category, detail, since, open_id AS exception_id
    FROM flagged WHERE open_id IS NOT NULL OR NOT resolved
)
"""

_ITEMS = """
SELECT payment_id, msg_id, currency, category, detail, since, exception_id FROM unmatched
WHERE ($4::timestamptz IS NULL OR since < $4)
ORDER BY since, category, payment_id, msg_id
"""

# One row per currency, then one (currency null) counting the orphans.
_TOTALS = """
, items_per_payment AS (
    SELECT payment_id, count(*) AS items FROM unmatched
    WHERE payment_id IS NOT NULL GROUP BY payment_id
)
SELECT s.currency, count(*) AS payments, sum(s.amount) AS amount,
       count(*) FILTER (WHERE i.items IS NULL) AS matched,
       coalesce(sum(i.items), 0)::bigint AS unmatched
FROM scope s LEFT JOIN items_per_payment i ON i.payment_id = s.id
GROUP BY s.currency
UNION ALL
SELECT NULL, 0, 0, 0, count(*) FROM unmatched WHERE payment_id IS NULL
ORDER BY currency NULLS LAST
"""


def _statement(scope: type[Day] | type[Outstanding], tail: str) -> str:
    return _UNMATCHED.format(payments=_PAYMENTS[scope], orphans=_ORPHANS[scope]) + tail


_ITEMS_SQL = {scope: _statement(scope, _ITEMS) for scope in (Day, Outstanding)}
_TOTALS_SQL = _statement(Day, _TOTALS)


async def day_summary(
    conn: Conn, day: date, *, as_of: datetime, answer_window: timedelta
) -> DaySummary:
    """Per currency: the day's payments, their sum, how many matched, their unmatched items."""
    rows = await conn.fetch(_TOTALS_SQL, day, as_of, answer_window)
    return DaySummary(
        day=day,
        as_of=as_of,
        by_currency=tuple(
            CurrencyTotals(r["currency"], r["payments"], r["amount"], r["matched"], r["unmatched"])
            for r in rows
            if r["currency"] is not None
        ),
        orphans=sum(r["unmatched"] for r in rows if r["currency"] is None),
    )


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
    parameter = scope.day if isinstance(scope, Day) else scope.before
    query = _ITEMS_SQL[type(scope)]
    async for row in conn.cursor(
        query, parameter, as_of, answer_window, since_before, prefetch=prefetch
    ):
        yield Unmatched(
            payment_id=row["payment_id"],
            msg_id=row["msg_id"],
            category=row["category"],
            detail=row["detail"],
            since=row["since"],
            currency=row["currency"],
            exception_id=row["exception_id"],
        )
