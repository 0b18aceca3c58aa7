"""SQL for payments, their status history and idempotency keys.

Batch statements take arrays (unnest) so that a batch of any size is one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from paywire.domain.payment import (
    AnswerSummary,
    HistoryEntry,
    MessageSummary,
    NewPayment,
    Party,
    Payment,
    Reason,
)
from paywire.domain.statuses import Status
from paywire.store.tx import Conn, Record, qualified

COLUMNS = """
    id, reference, status, amount, currency, value_date, debtor_name, debtor_account,
    creditor_name, creditor_account, creditor_agent_bic, end_to_end_id, remittance_info, uetr,
    msg_id, created_by, approved_by, created_at, updated_at, approved_at, reason_code, reason_text
"""


@dataclass(frozen=True, slots=True)
class StatusChange:
    payment_id: UUID
    source: Status
    target: Status
    reason: Reason | None = None


# COLUMNS of `payments p`, for a statement that joins another table.
_P_COLUMNS = qualified(COLUMNS, "p")


def to_payment(row: Record) -> Payment:
    reason = Reason(row["reason_code"], row["reason_text"]) if row["reason_code"] else None
    return Payment(
        id=row["id"],
        reference=row["reference"],
        status=Status(row["status"]),
        amount=row["amount"],
        currency=row["currency"],
        value_date=row["value_date"],
        debtor=Party(row["debtor_name"], row["debtor_account"]),
        creditor=Party(row["creditor_name"], row["creditor_account"], row["creditor_agent_bic"]),
        end_to_end_id=row["end_to_end_id"],
        remittance_info=row["remittance_info"],
        uetr=row["uetr"],
        msg_id=row["msg_id"],
        created_by=row["created_by"],
        approved_by=row["approved_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        approved_at=row["approved_at"],
        reason=reason,
    )


_INSERT = f"""
WITH p AS (
    INSERT INTO payments (amount, currency, value_date, debtor_name, debtor_account,
                          creditor_name, creditor_account, creditor_agent_bic, end_to_end_id,
                          remittance_info, created_by, created_at, updated_at, reference)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, payment_reference($12))
    RETURNING {COLUMNS}
), e AS (
    INSERT INTO payment_events (payment_id, status, at, by)
    SELECT id, status, created_at, created_by FROM p
)
SELECT {COLUMNS} FROM p
"""


async def insert(conn: Conn, new: NewPayment, created_by: str, at: datetime) -> Payment:
    """A new INITIATED payment and the first entry of its history; its reference carries the
    UTC day of `at`, its creation time."""
    row = await conn.fetchrow(
        _INSERT,
        new.amount,
        new.currency,
        new.value_date,
        new.debtor.name,
        new.debtor.account,
        new.creditor.name,
        new.creditor.account,
        new.creditor.agent_bic,
        new.end_to_end_id,
        new.remittance_info,
        created_by,
        at,
    )
    assert row is not None
    return to_payment(row)


async def get(conn: Conn, payment_id: UUID) -> Payment | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM payments WHERE id = $1", payment_id)
    return to_payment(row) if row else None


async def id_by_reference(conn: Conn, reference: str) -> UUID | None:
    """The id of the payment with this reference (PW-YYYYMMDD-XXXXXXXX), as operators type it."""
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM payments WHERE reference = $1", reference
    )
    return found


async def lock(conn: Conn, payment_ids: Sequence[UUID]) -> list[Payment]:
    """The payments, locked until the transaction ends; in id order, so lockers never deadlock.

    NO KEY UPDATE: what the lockers change (a status, its reason) is no key. A row inserted
    elsewhere that references the payment (an exception the ACK_MISSING sweep opens, while it
    holds the message row a resend waits for) takes a key-share lock, which a plain FOR UPDATE
    would make wait: a deadlock with the transaction that waits for that message row."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM payments WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE",
        payment_ids,
    )
    return [to_payment(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Answered:
    """What `lock_by_msg_id` found: the payments locked, the msg_ids of those another
    transaction holds, and the ids of the locked ones whose message no transmission has left
    (none claimed yet, or each claimed given back unsent: its attempts are 0)."""

    locked: list[Payment]
    held: set[str]
    never_sent: set[UUID]


async def lock_by_msg_id(conn: Conn, msg_ids: Sequence[str]) -> Answered:
    """The payments of these distinct msg_ids that no other transaction holds, locked, as
    `Answered` says. Not waited for: one payment locked elsewhere (an operator's action, a
    DBA's open transaction) would hold up every answer behind it. NO KEY UPDATE, as `lock`
    says. A transmission is claimed, and committed, before its bytes leave: an answer read
    after the claim finds it counted."""
    rows = await conn.fetch(
        f"SELECT {_P_COLUMNS}, m.attempts = 0 AS never_sent"
        " FROM payments p LEFT JOIN messages m ON m.payment_id = p.id"
        " WHERE p.msg_id = ANY($1::text[]) FOR NO KEY UPDATE OF p SKIP LOCKED",
        msg_ids,
    )
    locked = [to_payment(row) for row in rows]
    never_sent = {row["id"] for row in rows if row["never_sent"]}
    if len(locked) == len(msg_ids):
        return Answered(locked, set(), never_sent)
    # The rest name no payment (orphans), or one that is held: those are told apart unlocked.
    found = {payment.msg_id for payment in locked}
    held = await conn.fetch(
        "SELECT msg_id FROM payments WHERE msg_id = ANY($1::text[])",
        [msg_id for msg_id in msg_ids if msg_id not in found],
    )
    return Answered(locked, {row["msg_id"] for row in held}, never_sent)


async def claim(
    conn: Conn,
    status: Status,
    limit: int,
    *,
    exclude: Sequence[UUID] = (),
) -> list[UUID]:
    """Up to `limit` payments in `status`, oldest first, locked; rows other workers hold are
    skipped, and so are those in `exclude` (quarantined by the pipeline)."""
    # The work list names the candidates (payment_work, see its migration); the lock is on the
    # payment. The function walks the list in order and stops at `limit` (migration 0013).
    rows = await conn.fetch(
        "SELECT id FROM payment_work_claim($1, $2, $3::uuid[]) AS id", status.value, limit, exclude
    )
    return [row["id"] for row in rows]


_APPLY = """
WITH ch AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
        AS ch(id, source, target, reason_code, reason_text)
), upd AS (
    UPDATE payments p
    SET status = ch.target,
        reason_code = ch.reason_code,
        reason_text = ch.reason_text,
        updated_at = $6,
        approved_by = CASE WHEN ch.target = 'APPROVED' THEN $7 ELSE p.approved_by END,
        approved_at = CASE WHEN ch.target = 'APPROVED' THEN $6 ELSE p.approved_at END
    FROM ch
    WHERE p.id = ch.id AND p.status = ch.source
    RETURNING p.id, p.status, p.reason_code, p.reason_text
), ev AS (
    INSERT INTO payment_events (payment_id, status, at, by, reason_code, reason_text)
    SELECT id, status, $6, $7, reason_code, reason_text FROM upd
)
SELECT id FROM upd
"""


async def apply(conn: Conn, changes: Sequence[StatusChange], by: str, at: datetime) -> list[UUID]:
    """Move each payment from `source` to `target` and append to its history, in one statement;
    returns the ids moved. A payment no longer in `source` is left alone and missing from them.
    The row's new columns are known to the caller (`Payment.entered`), so none are sent back.
    """
    rows = await conn.fetch(
        _APPLY,
        [c.payment_id for c in changes],
        [c.source.value for c in changes],
        [c.target.value for c in changes],
        [c.reason.code if c.reason else None for c in changes],
        [c.reason.text if c.reason else None for c in changes],
        at,
        by,
    )
    return [row["id"] for row in rows]


async def history(conn: Conn, payment_id: UUID) -> list[HistoryEntry]:
    rows = await conn.fetch(
        "SELECT status, at, by, reason_code, reason_text FROM payment_events"
        " WHERE payment_id = $1 ORDER BY id",
        payment_id,
    )
    return [
        HistoryEntry(
            Status(row["status"]),
            row["at"],
            row["by"],
            Reason(row["reason_code"], row["reason_text"]) if row["reason_code"] else None,
        )
        for row in rows
    ]


async def message_summary(conn: Conn, payment_id: UUID) -> MessageSummary | None:
    """The payment's message and its answer: the one that settled it, received at the
    message's `answered_at` (`settle` writes that answer's `received_at` there). Before one
    settles it, the first kept whose UETR, if it names one, is the message's: `settle` refuses
    the others, and keeps without settling an answer to a message not sent yet, which may come
    before the answer that counts."""
    row = await conn.fetchrow(
        """
        SELECT m.msg_id, m.uetr, m.attempts,
               a.kind, a.status, a.reason_code, a.received_at
        FROM messages m
        LEFT JOIN LATERAL (
            SELECT kind, status, reason_code, received_at FROM answers
            WHERE payment_id = m.payment_id AND (uetr IS NULL OR uetr = m.uetr::text)
            ORDER BY (received_at = m.answered_at) IS NOT TRUE, id
            LIMIT 1
        ) a ON true
        WHERE m.payment_id = $1
        """,
        payment_id,
    )
    if row is None:
        return None
    answer = None
    if row["kind"] is not None:
        answer = AnswerSummary(row["kind"], row["status"], row["reason_code"], row["received_at"])
    return MessageSummary(row["msg_id"], row["uetr"], row["attempts"], answer)


async def page(
    conn: Conn,
    *,
    limit: int,
    status: Status | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> list[Payment]:
    """Payments newest first, filtered; `after` is the (created_at, id) of the previous page's
    last item. `created_to` is exclusive."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM payments
        WHERE ($1::text IS NULL OR status = $1)
          AND ($2::timestamptz IS NULL OR created_at >= $2)
          AND ($3::timestamptz IS NULL OR created_at < $3)
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $6
        """,
        status.value if status else None,
        created_from,
        created_to,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [to_payment(row) for row in rows]


async def idempotent_request(conn: Conn, operator: str, key: str) -> tuple[str, UUID] | None:
    """The request hash and payment recorded under an operator's Idempotency-Key."""
    row = await conn.fetchrow(
        "SELECT request_hash, payment_id FROM idempotency_keys WHERE operator = $1 AND key = $2",
        operator,
        key,
    )
    return (row["request_hash"], row["payment_id"]) if row else None


async def remember_request(
    conn: Conn, operator: str, key: str, request_hash: str, payment_id: UUID
) -> bool:
    """Record the key; False when it is already taken (another request committed it first)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (operator, key, request_hash, payment_id)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (operator, key) DO NOTHING
        RETURNING true
        """,
        operator,
        key,
        request_hash,
        payment_id,
    )
    return bool(inserted)
