"""Retention, run daily by a gateway: audit rows past PAYWIRE_AUDIT_RETENTION_YEARS purged,
payments past seven years archived, application logs past thirty days removed, sessions and
login throttles over for thirty days removed; each run audited.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.payment import utc_iso
from paywire.domain.retention import ARCHIVE_AFTER_YEARS, years_before
from paywire.observability.logging import prune_log_files
from paywire.services.audit import purge_expired
from paywire.store import archive, audit, operators
from paywire.store.tx import Pool, transaction

# Payments moved per transaction: short transactions, however much is due.
ARCHIVE_BATCH = 1000
# How long sessions and login throttles are kept once over: the audit log records every
# login, logout and lockout for good; these rows only serve an incident still being looked at.
SIGN_IN_RECORDS_KEPT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class RetentionRun:
    at: datetime
    audit_rows_purged: int
    payments_archived: int
    log_files_removed: int
    sessions_removed: int
    login_throttles_removed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": utc_iso(self.at),
            "audit_rows_purged": self.audit_rows_purged,
            "payments_archived": self.payments_archived,
            "log_files_removed": self.log_files_removed,
            "sessions_removed": self.sessions_removed,
            "login_throttles_removed": self.login_throttles_removed,
        }


async def archive_expired(db: Pool, now: datetime | None = None) -> int:
    """Move every payment due for the archive, a batch per transaction; returns how many."""
    before = years_before(now or datetime.now(UTC), ARCHIVE_AFTER_YEARS)
    total = 0
    while True:
        async with transaction(db) as conn:
            moved = await archive.archive_payments(conn, before, ARCHIVE_BATCH)
        total += moved
        if moved < ARCHIVE_BATCH:
            return total


async def run(
    db: Pool, *, retention_years: int, log_dir: Path, now: datetime | None = None
) -> RetentionRun:
    """One retention run as of `now`, recorded in the audit log (as `system`) once done."""
    moment = now or datetime.now(UTC)
    purged = await purge_expired(db, retention_years, moment)
    archived = await archive_expired(db, moment)
    async with transaction(db) as conn:
        sessions, throttles = await operators.prune_sign_in_records(
            conn, moment - SIGN_IN_RECORDS_KEPT
        )
    # In a thread: a log directory on a slow or network disk must not stall the event loop.
    log_files_removed = await asyncio.to_thread(prune_log_files, log_dir, moment.date())
    result = RetentionRun(
        at=moment,
        audit_rows_purged=purged,
        payments_archived=archived,
        log_files_removed=log_files_removed,
        sessions_removed=sessions,
        login_throttles_removed=throttles,
    )
    async with transaction(db) as conn:
        after = {**result.as_dict(), "audit_retention_years": retention_years}
        entry = AuditEntry.by_system(
            "retention.run", "retention", moment.date().isoformat(), after=after
        )
        await audit.append(conn, [entry])
    return result
