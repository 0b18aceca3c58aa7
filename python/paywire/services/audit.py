"""The audit log as operators use it: verification, CSV export, the retention purge.

Verification and export stream rows through a cursor, so a log of any size fits in memory.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import orjson

from paywire.domain.payment import utc_iso
from paywire.store import audit
from paywire.store.audit import VerifyResult
from paywire.store.tx import Db, connection, transaction

EXPORT_COLUMNS = (
    "id", "timestamp", "operator", "action", "entity", "entity_id",
    "before", "after", "request_id", "prev_hash", "hash",
)  # fmt: skip


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


async def verify(db: Db) -> VerifyResult:
    """Walk the whole chain: `{"ok", "rows", "first_bad_id"}` of SPEC §7."""
    async with connection(db) as conn:
        return await audit.verify(conn)


async def export_csv(db: Db, day: date, out: Writable) -> int:
    """Write the rows stamped on `day` (UTC) as CSV with a header; returns how many.

    before/after are JSON with sorted keys, timestamps as in the hash, so the chain can be
    re-verified from the file alone.
    """
    since = datetime.combine(day, time(), UTC)
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = 0
    async with connection(db) as conn:
        async for row in audit.stream(conn, since, since + timedelta(days=1)):
            writer.writerow(
                [
                    row["id"],
                    utc_iso(row["timestamp"]),
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
            )
            rows += 1
    return rows


async def purge_expired(db: Db, retention_years: int, now: datetime | None = None) -> int:
    """Remove the rows older than the retention (7 to 10 years); returns how many. The database
    refuses anything younger than seven years whatever is asked."""
    moment = now or datetime.now(UTC)
    try:
        cutoff = moment.replace(year=moment.year - retention_years)
    except ValueError:  # 29 February, in a year that has none
        cutoff = moment.replace(year=moment.year - retention_years, day=28)
    async with transaction(db) as conn:
        purged: int = await conn.fetchval("SELECT audit_purge($1)", cutoff)
    return purged


def _json(value: object) -> str:
    return "" if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
