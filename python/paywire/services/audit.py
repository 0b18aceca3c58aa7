"""The audit log as operators use it: verification, CSV export, the retention purge.

Verification and export stream rows through a cursor, so a log of any size fits in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import orjson

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.payment import utc_iso
from paywire.domain.retention import years_before
from paywire.services import streaming
from paywire.store import audit
from paywire.store.audit import VerifyResult
from paywire.store.tx import Conn, Db, connection, transaction

EXPORT_COLUMNS = (
    "id", "timestamp", "operator", "action", "entity", "entity_id",
    "before", "after", "request_id", "prev_hash", "hash",
)  # fmt: skip


class Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


async def verify(db: Db, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Walk the whole chain: `{"ok", "rows", "first_bad_id"}` of SPEC §7; `progress` hears
    (rows walked, rows expected) as it goes."""
    async with connection(db) as conn:
        return await audit.verify(conn, progress=progress)


@asynccontextmanager
async def export(db: Db, day: date) -> AsyncIterator[AsyncIterator[list[object]]]:
    """The rows stamped on `day` (UTC), oldest first, as CSV rows of `EXPORT_COLUMNS`, read
    from a cursor inside the block. before/after are JSON with sorted keys and timestamps are
    as in the hash, so the chain can be re-verified from the file alone."""
    since = datetime.combine(day, time(), UTC)
    until = since + timedelta(days=1) if day < date.max else datetime.max.replace(tzinfo=UTC)
    async with connection(db) as conn, aclosing(_rows(conn, since, until)) as rows:
        yield rows


async def export_csv(db: Db, day: date, out: Writable) -> int:
    """Write `day`'s rows to `out` as UTF-8 CSV with a header; returns how many."""
    written = 0

    async def counted(rows: AsyncIterator[list[object]]) -> AsyncIterator[list[object]]:
        nonlocal written
        async for row in rows:
            written += 1
            yield row

    async with export(db, day) as rows:
        async for chunk in streaming.csv_chunks(EXPORT_COLUMNS, counted(rows)):
            out.write(chunk)
    return written


async def purge_expired(db: Db, retention_years: int, now: datetime | None = None) -> int:
    """Remove the rows older than the retention (7 to 10 years); returns how many. The database
    refuses anything younger than seven years whatever is asked. A purge is recorded in its own
    transaction (`audit.purge`, as `system`): a deletion of audit records is never off the
    record, whatever happens to the rest of the retention run."""
    cutoff = years_before(now or datetime.now(UTC), retention_years)
    async with transaction(db) as conn:
        purged, applied = await audit.purge(conn, cutoff)
        if purged:
            record = {"rows_purged": purged, "older_than": utc_iso(applied)}
            after = {**record, "audit_retention_years": retention_years}
            entry = AuditEntry.by_system(
                "audit.purge", "audit", applied.date().isoformat(), after=after
            )
            await audit.append(conn, [entry])
        return purged


async def _rows(conn: Conn, since: datetime, until: datetime) -> AsyncGenerator[list[object], None]:
    # Closed explicitly: its transaction must end before the connection goes back to the pool.
    async with aclosing(audit.stream(conn, since, until)) as stored:
        async for row in stored:
            yield [
                row["id"],
                row["timestamp"] or "",
                row["operator"],
                row["action"],
                row["entity"],
                row["entity_id"],
                _json(row["before"]),
                _json(row["after"]),
                row["request_id"] or "",
                row["prev_hash"],
                row["hash"],
            ]


def _json(stored: str | None) -> str:
    """The value with sorted keys, as hashed; one that cannot be read back (written behind the
    triggers) as it is stored: the file shows the row `verify` names."""
    try:
        value = audit.stored_json(stored)
        return "" if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        assert stored is not None
        return stored
