"""SQL for messages as sent and the answers received for them.

A message row is written before its first transmission; answers are kept exactly as received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from paywire.store.tx import Conn


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A serialised pacs.008 for a payment: `payload` is what every transmission sends."""

    payment_id: UUID
    msg_id: str
    uetr: UUID
    payload: bytes


# answers.status of an answer an operator recorded from the receiver's confirmation, resolving
# an exception with mark_settled; the receiver's own answers carry an ISO 20022 status.
MANUAL = "MANUAL"


@dataclass(frozen=True, slots=True)
class IncomingAnswer:
    """An ACK or NACK as parsed from the wire, with the frame it came in."""

    msg_id: str
    kind: Literal["ACK", "NACK"]
    status: str
    reason_code: str | None
    reason_text: str | None
    uetr: str | None
    payload: bytes
    received_at: datetime


# An answer's MsgId, the instant it was received and its bytes: what tells it from any other.
Receipt = tuple[str, datetime, bytes]


async def insert_messages(conn: Conn, messages: Sequence[OutgoingMessage]) -> None:
    """Store the messages; one that exists already is kept as it is."""
    await conn.execute(
        """
        INSERT INTO messages (payment_id, msg_id, uetr, payload)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bytea[])
        ON CONFLICT (payment_id) DO NOTHING
        """,
        [m.payment_id for m in messages],
        [m.msg_id for m in messages],
        [m.uetr for m in messages],
        [m.payload for m in messages],
    )


async def insert_answers(
    conn: Conn, answers: Sequence[IncomingAnswer], payment_ids: Sequence[UUID | None]
) -> None:
    """Keep every answer; `payment_ids[i]` is the payment answer i names, or None (orphan)."""
    await conn.execute(
        """
        INSERT INTO answers (msg_id, payment_id, kind, status, reason_code, reason_text, uetr,
                             received_at, payload)
        SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::timestamptz[], $9::bytea[])
        """,
        [a.msg_id for a in answers],
        list(payment_ids),
        [a.kind for a in answers],
        [a.status for a in answers],
        [a.reason_code for a in answers],
        [a.reason_text for a in answers],
        [a.uetr for a in answers],
        [a.received_at for a in answers],
        [a.payload for a in answers],
    )


async def already_stored(conn: Conn, answers: Sequence[IncomingAnswer]) -> dict[Receipt, bool]:
    """Those of `answers` stored already, by a transaction whose outcome its caller never
    learnt (a COMMIT whose reply was lost), each with whether it settled its payment (its
    message's `answered_at` is its `received_at`). An answer is received once: its MsgId, the
    instant and the bytes tell it from any other, a duplicate frame included."""
    rows = await conn.fetch(
        """
        SELECT a.msg_id, a.received_at, a.payload,
               coalesce(m.answered_at = a.received_at, false) AS settled
        FROM answers a
        JOIN unnest($1::text[], $2::timestamptz[]) AS x(msg_id, received_at)
          ON a.msg_id = x.msg_id AND a.received_at = x.received_at
        LEFT JOIN messages m ON m.payment_id = a.payment_id
        """,
        [a.msg_id for a in answers],
        [a.received_at for a in answers],
    )
    return {(r["msg_id"], r["received_at"], r["payload"]): r["settled"] for r in rows}


def receipt(answer: IncomingAnswer) -> Receipt:
    """What tells one answer received from any other (`already_stored`)."""
    return answer.msg_id, answer.received_at, answer.payload


async def mark_answered(conn: Conn, payment_ids: Sequence[UUID], at: Sequence[datetime]) -> None:
    await conn.execute(
        """
        UPDATE messages m SET answered_at = x.at
        FROM unnest($1::uuid[], $2::timestamptz[]) AS x(payment_id, at)
        WHERE m.payment_id = x.payment_id AND m.answered_at IS NULL
        """,
        payment_ids,
        at,
    )
