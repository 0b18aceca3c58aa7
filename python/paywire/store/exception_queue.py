"""SQL for the exception queue: items an operator must look at (SPEC §7 exception).

At most one OPEN exception per kind and payment (per msg_id for orphans); opening twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from paywire.domain.payment import utc_iso
from paywire.store.tx import Conn, Record, qualified

# An `ExceptionItem`'s columns, in its order: what a statement opening exceptions returns.
COLUMNS = "id, kind, payment_id, msg_id, detail, state, opened_at, resolved_at, resolved_by, note"
_E_COLUMNS = qualified(COLUMNS, "e")


@dataclass(frozen=True, slots=True)
class NewException:
    kind: str
    payment_id: UUID | None
    msg_id: str | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    id: int
    kind: str
    payment_id: UUID | None
    msg_id: str | None
    detail: str
    state: str
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "payment_id": str(self.payment_id) if self.payment_id else None,
            "msg_id": self.msg_id,
            "detail": self.detail,
            "state": self.state,
            "opened_at": utc_iso(self.opened_at),
            "resolved_at": utc_iso(self.resolved_at) if self.resolved_at else None,
            "resolved_by": self.resolved_by,
            "note": self.note,
        }


def to_item(row: Record) -> ExceptionItem:
    return ExceptionItem(**dict(row.items()))


async def open_many(conn: Conn, items: Sequence[NewException]) -> list[ExceptionItem]:
    """Open each exception unless one of its kind is already open for it; returns those opened."""
    rows = await conn.fetch(
        f"""
        INSERT INTO exceptions (kind, payment_id, msg_id, detail)
        SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[])
        ON CONFLICT DO NOTHING
        RETURNING {COLUMNS}
        """,
        [i.kind for i in items],
        [i.payment_id for i in items],
        [i.msg_id for i in items],
        [i.detail for i in items],
    )
    return [to_item(row) for row in rows]


async def get(conn: Conn, exception_id: int, *, lock: bool = False) -> ExceptionItem | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM exceptions WHERE id = $1{suffix}", exception_id
    )
    return to_item(row) if row else None


async def resolve(
    conn: Conn, exception_id: int, by: str, note: str, at: datetime
) -> ExceptionItem | None:
    """Resolve an OPEN exception; None if it is not open."""
    resolved = await resolve_many(conn, {exception_id: note}, by, at)
    return resolved[0] if resolved else None


async def resolve_many(
    conn: Conn, notes: Mapping[int, str], by: str, at: datetime
) -> list[ExceptionItem]:
    """Resolve the OPEN exceptions of `notes`, each with its note, as `by`; those not open are
    left. In id order."""
    rows = await conn.fetch(
        f"""
        UPDATE exceptions e
        SET state = 'RESOLVED', resolved_at = $4, resolved_by = $3, note = n.note
        FROM unnest($1::bigint[], $2::text[]) AS n (id, note)
        WHERE e.id = n.id AND e.state = 'OPEN'
        RETURNING {_E_COLUMNS}
        """,
        list(notes),
        list(notes.values()),
        by,
        at,
    )
    return sorted((to_item(row) for row in rows), key=lambda item: item.id)


async def lock_open(
    conn: Conn, kind: str, payment_ids: Sequence[UUID]
) -> dict[UUID, ExceptionItem]:
    """The OPEN exception of `kind` of each of these payments that has one, by payment, locked.
    One whose row another transaction holds (an operator resolving it) is skipped, not waited
    for: they lock the exception before the payment, and the settler, whose payments are locked
    already, would deadlock with them."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM exceptions
        WHERE kind = $1 AND state = 'OPEN' AND payment_id = ANY($2::uuid[])
        ORDER BY id
        FOR UPDATE SKIP LOCKED
        """,
        kind,
        payment_ids,
    )
    return {row["payment_id"]: to_item(row) for row in rows}


async def page(
    conn: Conn,
    *,
    limit: int,
    state: str | None = None,
    kind: str | None = None,
    after: int | None = None,
) -> list[ExceptionItem]:
    """Exceptions newest first; `after` is the id of the previous page's last one."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM exceptions
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC
        LIMIT $4
        """,
        state,
        kind,
        after,
        limit,
    )
    return [to_item(row) for row in rows]


async def count_open(conn: Conn) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM exceptions WHERE state = 'OPEN'")
    return count
