"""The audit log: the chain writer, the streaming verifier and reads.

The writer locks the chain head, so concurrent writers append one after the other; it joins the
caller's transaction, so an audit row commits exactly when the change it records does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from paywire.domain.audit_chain import AuditEntry, chain_hash, refuse_floats
from paywire.domain.payment import utc_iso
from paywire.store.tx import Conn, Record

COLUMNS = (
    "id, timestamp, operator, action, entity, entity_id, before, after, request_id, prev_hash, hash"
)

_COPY_COLUMNS = tuple(column.strip() for column in COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """SPEC §7 audit verify: `rows` counts the rows examined, up to the first bad one."""

    ok: bool
    rows: int
    first_bad_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "first_bad_id": self.first_bad_id}


async def append(conn: Conn, entries: Sequence[AuditEntry], at: datetime | None = None) -> None:
    """Chain and insert `entries` in order, stamped `at` (now by default), and move the head."""
    await append_groups(conn, [(entries, at or datetime.now(UTC))])


async def append_groups(
    conn: Conn, groups: Sequence[tuple[Sequence[AuditEntry], datetime]]
) -> None:
    """Chain and insert groups of entries, each group with its own stamp, in one go."""
    if not any(entries for entries, _ in groups):
        return
    if not conn.is_in_transaction():
        raise RuntimeError("audit rows are written inside the transaction of the change")
    # The head's own columns, so that a writer that waited for the lock reads them as the
    # writer before it left them (a read of audit_logs here would see the snapshot of before the
    # wait, without that writer's rows).
    head = await conn.fetchrow("SELECT last_id, last_hash, last_at FROM audit_chain FOR UPDATE")
    assert head is not None
    rows = []
    last_id, last_hash, floor = head["last_id"], head["last_hash"], head["last_at"]
    for entries, given in groups:
        # Stamps never go back along the chain, whatever the clocks of the processes that
        # write it, or the time a writer took its stamp before it got the head (a login, before
        # argon2): a day's rows are then one run of ids, so each day's export checks on its own.
        stamp = given if floor is None else max(given, floor)
        floor = stamp
        text = utc_iso(stamp)
        for entry in entries:
            refuse_floats(entry)
            last_id += 1
            prev_hash, last_hash = last_hash, chain_hash(last_hash, last_id, text, entry)
            rows.append(
                (
                    last_id,
                    stamp,
                    entry.operator,
                    entry.action,
                    entry.entity,
                    entry.entity_id,
                    entry.before,
                    entry.after,
                    entry.request_id,
                    prev_hash,
                    last_hash,
                )
            )
    # COPY: the server inserts the rows in bulk, and no column travels as an array.
    await conn.copy_records_to_table("audit_logs", records=rows, columns=_COPY_COLUMNS)
    await conn.execute(
        "UPDATE audit_chain SET last_id = $1, last_hash = $2, last_at = $3",
        last_id,
        last_hash,
        floor,
    )


class Journal:
    """Audit rows held back and appended together at the end of a transaction that takes other
    locks after its changes (the ledger's accounts): the chain head is always locked last."""

    def __init__(self) -> None:
        self._groups: list[tuple[Sequence[AuditEntry], datetime]] = []

    def add(self, entries: Sequence[AuditEntry], at: datetime) -> None:
        self._groups.append((entries, at))

    async def write(self, conn: Conn) -> None:
        await append_groups(conn, self._groups)
        self._groups = []


async def verify(
    conn: Conn, *, prefetch: int = 2000, progress: Callable[[int, int], None] | None = None
) -> VerifyResult:
    """Walk the chain from its anchor in id order with a cursor, in one snapshot.

    A row is bad when its id is not the next, its prev_hash is not the previous row's hash, or
    its hash does not match its content; rows missing at the end are found through the head, as
    are rows past it (the first of them is named). `progress` hears (rows walked, rows the head
    says there are) every `prefetch` rows and at the end: ten years of a log take minutes.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(
            "SELECT last_id, last_hash, anchor_id, anchor_hash FROM audit_chain"
        )
        assert head is not None
        expected_id, prev_hash, rows = head["anchor_id"] + 1, head["anchor_hash"], 0
        expected_rows = head["last_id"] - head["anchor_id"]
        async for row in conn.cursor(_VERIFIED_ROWS, prefetch=prefetch):
            rows += 1
            if progress is not None and rows % prefetch == 0:
                progress(rows, expected_rows)
            if (
                row["id"] != expected_id
                or row["prev_hash"] != prev_hash
                or row["hash"] != _row_hash(row, prev_hash)
            ):
                return VerifyResult(False, rows, row["id"])
            expected_id, prev_hash = expected_id + 1, row["hash"]
        if progress is not None:
            progress(rows, expected_rows)
        if head["last_id"] != expected_id - 1:
            # Rows missing at the end (the first is named), or rows past the head (its next).
            return VerifyResult(False, rows, min(expected_id, head["last_id"] + 1))
        if head["last_hash"] != prev_hash:
            # Every row fits the one before it and the head disagrees with the last: that row
            # was rewritten and hashed again (the hash holds no secret), or the head was.
            # With no row past the anchor, the head alone is wrong: there is no row to name.
            return VerifyResult(False, rows, head["last_id"] if rows else None)
        return VerifyResult(True, rows, None)


def _row_hash(row: Record, prev_hash: str) -> str | None:
    """The hash a row read by `_VERIFIED_ROWS` should have after `prev_hash`; None when its
    content cannot be read back, or hashed again (JSON nested deeper than the writer takes)."""
    entry = _stored_entry(row)
    if entry is None:
        return None
    try:
        return chain_hash(prev_hash, row["id"], row["timestamp"], entry)
    except orjson.JSONEncodeError:
        return None


# For verify, export and the listing: before and after as the text jsonb stores, decoded row by
# row (`stored_json`) or passed on as JSON text, and the timestamp as the text the chain hashes
# (`utc_iso`'s form). A value a writer behind the triggers made undecodable (a number past a
# float, 1e400; a timestamp past Python's, year 10000 or infinity) is then the bad row to name,
# or the cell to show as stored, where the connection's codec would have ended the whole walk
# (or page) with an error.
_STORED_COLUMNS = (
    "id, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    " AS timestamp, operator, action, entity, entity_id, before::text AS before,"
    " after::text AS after, request_id, prev_hash, hash"
)
_VERIFIED_ROWS = f"SELECT {_STORED_COLUMNS} FROM audit_logs ORDER BY id"


def stored_json(text: str | None) -> Any:
    """A before or after column read as text; JSONDecodeError when it cannot be read back."""
    return None if text is None else orjson.loads(text)


def _stored_entry(row: Record) -> AuditEntry | None:
    """The entry of a row read by `_VERIFIED_ROWS`, or None when its JSON cannot be read."""
    try:
        before, after = stored_json(row["before"]), stored_json(row["after"])
    except orjson.JSONDecodeError:
        return None
    return AuditEntry(
        operator=row["operator"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        before=before,
        after=after,
        request_id=row["request_id"],
    )


async def page(
    conn: Conn,
    *,
    limit: int,
    after: int | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    operator: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    as_stored: bool = False,
) -> list[Record]:
    """Audit rows newest first, filtered; `after` is the id of the previous page's last row and
    `until` is exclusive. With `as_stored`, before and after as stored text, as `stream` reads
    them (for the API, which shows a row no reader can decode), else decoded."""
    return await conn.fetch(
        f"""
        SELECT {_STORED_COLUMNS if as_stored else COLUMNS} FROM audit_logs
        WHERE ($1::bigint IS NULL OR id < $1)
          AND ($2::text IS NULL OR entity = $2)
          AND ($3::text IS NULL OR entity_id = $3)
          AND ($4::text IS NULL OR operator = $4)
          AND ($5::text IS NULL OR action = $5)
          AND ($6::timestamptz IS NULL OR timestamp >= $6)
          AND ($7::timestamptz IS NULL OR timestamp < $7)
        ORDER BY id DESC
        LIMIT $8
        """,
        after,
        entity,
        entity_id,
        operator,
        action,
        since,
        until,
        limit,
    )


async def stream(
    conn: Conn, since: datetime, until: datetime, *, prefetch: int = 2000
) -> AsyncGenerator[Record, None]:
    """Rows stamped in [since, until), oldest first, through a cursor (for exports); before
    and after as stored text (`stored_json`)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        query = (
            f"SELECT {_STORED_COLUMNS} FROM audit_logs"
            " WHERE timestamp >= $1 AND timestamp < $2 ORDER BY id"
        )
        async for row in conn.cursor(query, since, until, prefetch=prefetch):
            yield row


async def purge(conn: Conn, before: datetime) -> tuple[int, datetime]:
    """The oldest rows, all stamped before `before`, removed through `audit_purge`, the one
    DELETE the database allows (and only of rows older than seven years); returns how many, and
    the cutoff applied. `before` is held to the database's own seven-year floor: with a
    seven-year retention, a gateway clock a moment ahead of the server's would otherwise be
    refused on every run."""
    row = await conn.fetchrow(
        "SELECT audit_purge(cutoff) AS purged, cutoff"
        " FROM (SELECT least($1::timestamptz, now() - interval '7 years') AS cutoff) AS applied",
        before,
    )
    assert row is not None
    return row["purged"], row["cutoff"]
