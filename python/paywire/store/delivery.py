"""SQL for scheduling transmissions of stored messages across gateway processes.

A row lock plus `next_attempt_at` is the lease: whoever claims a due message owns its next send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from paywire.store.tx import Conn


@dataclass(frozen=True, slots=True)
class Transmission:
    """One send to make: the stored bytes of a payment's message and which attempt this is."""

    payment_id: UUID
    msg_id: str
    uetr: UUID
    payload: bytes
    attempt: int


async def start(
    conn: Conn, payment_ids: Sequence[UUID], *, at: datetime, lease: timedelta, by: str
) -> list[Transmission]:
    """Record the first transmission of these payments' messages, due again after `lease`."""
    rows = await conn.fetch(
        """
        UPDATE messages SET attempts = attempts + 1,
                            first_sent_at = coalesce(first_sent_at, $2),
                            last_sent_at = $2,
                            next_attempt_at = $2 + $3::interval,
                            sent_by = $4
        WHERE payment_id = ANY($1::uuid[]) AND answered_at IS NULL
        RETURNING payment_id, msg_id, uetr, payload, attempts
        """,
        payment_ids,
        at,
        lease,
        by,
    )
    return [Transmission(*row) for row in rows]


async def claim_due(
    conn: Conn,
    limit: int,
    *,
    at: datetime,
    lease: timedelta,
    by: str,
    max_attempts: int,
    exclude: Sequence[UUID] = (),
) -> list[Transmission]:
    """Take up to `limit` unanswered messages whose lease has run out and that have attempts
    left, and record their resend; rows another process holds are skipped, and so are the
    payments in `exclude`."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT m.payment_id FROM messages m
            JOIN payments p ON p.id = m.payment_id AND p.status = 'TRANSMITTED'
            WHERE m.answered_at IS NULL AND m.next_attempt_at <= $2
              AND m.attempts < coalesce(m.attempt_limit, $5)
              AND NOT (m.payment_id = ANY($6::uuid[]))
            ORDER BY m.next_attempt_at
            LIMIT $1
            FOR UPDATE OF m SKIP LOCKED
        )
        UPDATE messages m SET attempts = m.attempts + 1,
                              first_sent_at = coalesce(m.first_sent_at, $2),
                              -- Never before the first: a host clock stepped back since (NTP,
                              -- a resumed VM) would break messages_sent_order and, with it,
                              -- every claim of this statement.
                              last_sent_at = greatest($2, m.first_sent_at),
                              next_attempt_at = $2 + $3::interval,
                              sent_by = $4
        FROM due WHERE m.payment_id = due.payment_id
        RETURNING m.payment_id, m.msg_id, m.uetr, m.payload, m.attempts
        """,
        limit,
        at,
        lease,
        by,
        max_attempts,
        exclude,
    )
    return [Transmission(*row) for row in rows]


async def exhausted(
    conn: Conn, limit: int, *, at: datetime, max_attempts: int
) -> list[tuple[UUID, str]]:
    """Messages whose last allowed transmission went unanswered for a whole lease: they are
    taken off the schedule and returned, so the caller opens their ACK_MISSING exceptions."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT payment_id FROM messages
            WHERE answered_at IS NULL AND next_attempt_at <= $2
              AND attempts >= coalesce(attempt_limit, $3)
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE messages m SET next_attempt_at = NULL
        FROM due WHERE m.payment_id = due.payment_id
        RETURNING m.payment_id, m.msg_id
        """,
        limit,
        at,
        max_attempts,
    )
    return [(row["payment_id"], row["msg_id"]) for row in rows]


async def due_now(
    conn: Conn,
    lost: Sequence[tuple[UUID, int]],
    *,
    at: datetime,
    by: str,
    written: bool = True,
) -> None:
    """Make these messages due at `at`: the transmissions `by` made of them, (payment, attempt),
    were lost with their connection. Not `written` (the pool refused them before a byte left:
    the breaker was open, or no connection had room before their lease ended), their attempts
    are given back too: they count against no limit and record no send. A message claimed
    again since, by this process or another, keeps the lease of that later transmission."""
    await conn.execute(
        """
        UPDATE messages m
        SET next_attempt_at = $3,
            attempts = m.attempts - CASE WHEN $5 THEN 0 ELSE 1 END,
            first_sent_at = CASE WHEN $5 OR m.attempts > 1 THEN m.first_sent_at END,
            last_sent_at = CASE WHEN $5 OR m.attempts > 1 THEN m.last_sent_at END
        FROM unnest($1::uuid[], $2::int[]) AS lost(payment_id, attempt)
        WHERE m.payment_id = lost.payment_id AND m.attempts = lost.attempt
          AND m.sent_by = $4 AND m.answered_at IS NULL AND m.next_attempt_at IS NOT NULL
        """,
        [payment_id for payment_id, _ in lost],
        [attempt for _, attempt in lost],
        at,
        by,
        written,
    )


async def grant_attempt(
    conn: Conn, payment_id: UUID, *, at: datetime, max_attempts: int
) -> tuple[int, int] | None:
    """An operator's retry: allow one transmission more than made so far (a limit not yet
    reached is kept) and make it due at `at`. Returns the message's limit before and after (the
    setting's when it had none of its own); None when the message is answered or was never
    stored. A retry sent again before that transmission (its first answer lost with the
    commit's reply) finds it allowed and grants no other."""
    row = await conn.fetchrow(
        """
        WITH before AS (
            SELECT payment_id, coalesce(attempt_limit, $3) AS attempt_limit FROM messages
            WHERE payment_id = $1 AND answered_at IS NULL
            FOR UPDATE
        )
        UPDATE messages m SET attempt_limit = greatest(m.attempts + 1, before.attempt_limit),
                              next_attempt_at = $2
        FROM before WHERE m.payment_id = before.payment_id
        RETURNING before.attempt_limit AS before, m.attempt_limit AS after
        """,
        payment_id,
        at,
        max_attempts,
    )
    return (row["before"], row["after"]) if row else None
