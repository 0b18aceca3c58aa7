"""Reconciliation: the daily report, the aging list, and the sweep a running gateway repeats.

A report is read in one repeatable-read snapshot, so its totals agree with its list; the sweep
opens an exception for every unmatched item that has none and sets the reconciliation gauge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from paywire.config import Settings
from paywire.domain.payment import utc_iso
from paywire.domain.reconciliation import COLUMNS, BalanceBreak, Unmatched
from paywire.observability.metrics import reconciliation_unmatched_items
from paywire.services import gauges, streaming
from paywire.services.pipeline import audit_opened
from paywire.store import reconciliation as store
from paywire.store.reconciliation import Changed, Created, Listed, Outstanding
from paywire.store.tx import Pool, connection, transaction

# Items the sweep looks at again, and opens the exceptions of, per transaction.
OPEN_BATCH = 1000
# How far back the sweep looks at payments that were created or moved, every time: breaks
# appear when payments are posted and settled, whenever that is; the rest waits for the close.
RECENT = timedelta(hours=1)


def answer_window(settings: Settings) -> timedelta:
    """How long after its first transmission a payment may wait for its answer before it is
    MISSING_ACK: every attempt's timeout and one more, the last attempt's wait (the pool may
    queue it up to a timeout after its claim), when the pipeline too gives up (ACK_MISSING)."""
    return timedelta(seconds=settings.ack_timeout_s * (settings.max_attempts + 1))


@dataclass(frozen=True, slots=True)
class Report:
    """A report's `head` and its unmatched items, streamed as they are read; `unmatched` is the
    number of items when it is known beforehand (a daily report's totals)."""

    head: Mapping[str, Any]
    items: AsyncIterator[Unmatched]
    unmatched: int | None = None

    def json(self) -> AsyncIterator[bytes]:
        """The head with the items under `unmatched`: the SPEC §7 representation."""
        return streaming.json_chunks(self.head, "unmatched", _dicts(self.items))

    def csv(self) -> AsyncIterator[bytes]:
        """The unmatched items alone, one row each, under a header row."""
        return streaming.csv_chunks(COLUMNS, _rows(self.items))


@asynccontextmanager
async def daily(
    db: Pool, day: date, *, answer_window: timedelta, as_of: datetime | None = None
) -> AsyncIterator[Report]:
    """The report of the payments created on `day` (UTC) and the orphan answers received on
    it, as of `as_of` (now); read it inside the block."""
    moment = as_of or datetime.now(UTC)
    async with (
        connection(db) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        summary, items = await store.day_report(
            conn, day, as_of=moment, answer_window=answer_window
        )
        async with aclosing(items):
            yield Report(summary.as_dict(), items, summary.unmatched)


@asynccontextmanager
async def aging(
    db: Pool, days: int, *, answer_window: timedelta, as_of: datetime | None = None
) -> AsyncIterator[Report]:
    """The outstanding items unmatched for more than `days` days, whatever their day."""
    moment = as_of or datetime.now(UTC)
    async with (
        connection(db) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        items = store.unmatched(
            conn,
            Outstanding(),
            as_of=moment,
            answer_window=answer_window,
            since_before=moment - timedelta(days=days),
        )
        async with aclosing(items):
            yield Report({"days": days, "as_of": utc_iso(moment)}, items)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep found unmatched, and how many exceptions it opened for those items."""

    unmatched: int
    opened: int


async def balances(db: Pool) -> tuple[int, list[BalanceBreak]]:
    """Every account's balance against its opening balance and its ledger entries, in one
    snapshot: how many accounts, and those out of balance (`paywire recon balances`)."""
    async with (
        connection(db) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        return await store.balance_breaks(conn)


async def sweep(
    db: Pool,
    *,
    answer_window: timedelta,
    as_of: datetime | None = None,
    close_day: date | None = None,
    since: datetime | None = None,
) -> Sweep:
    """Reconcile the payments created or moved in the last hour, or since `since` if that is
    earlier (where new breaks appear), everything outstanding, and the whole of `close_day`
    when given; open the exceptions missing; set `reconciliation_unmatched_items` to the items
    found and `exceptions_open`.

    The items are read in one snapshot, which a long sweep holds for minutes; the exceptions
    they need are opened by a second look at them as they stand then (`store.open_needed`), so
    that one mended, or whose exception an operator resolved, meanwhile gets none."""
    moment = as_of or datetime.now(UTC)
    start = moment - RECENT if since is None else min(since, moment - RECENT)
    scopes: list[store.Scope] = [Changed(start), Outstanding()]
    if close_day is not None:
        scopes.append(Created.day(close_day))
    found: set[tuple[str, UUID | None, str | None]] = set()
    opened = 0
    pending: list[Unmatched] = []
    async with (
        connection(db) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        for scope in scopes:
            items = store.unmatched(conn, scope, as_of=moment, answer_window=answer_window)
            async with aclosing(items):
                async for item in items:
                    key = (item.category, item.payment_id, item.msg_id)
                    if key in found:
                        continue
                    found.add(key)
                    if item.needs_exception:
                        pending.append(item)
                    if len(pending) >= OPEN_BATCH:
                        opened += await _open_needed(
                            db, pending, as_of=moment, answer_window=answer_window
                        )
                        pending = []
    opened += await _open_needed(db, pending, as_of=moment, answer_window=answer_window)
    reconciliation_unmatched_items.set(len(found))
    await gauges.refresh_exceptions_open(db)
    return Sweep(len(found), opened)


async def _open_needed(
    db: Pool, items: list[Unmatched], *, as_of: datetime, answer_window: timedelta
) -> int:
    """Open and audit, in a transaction of their own, the exceptions `items` still need; how
    many were opened."""
    if not items:
        return 0
    listed = Listed(
        tuple({i.payment_id for i in items if i.payment_id is not None}),
        tuple({i.msg_id for i in items if i.payment_id is None and i.msg_id is not None}),
    )
    async with transaction(db) as conn:
        opened = await store.open_needed(conn, listed, as_of=as_of, answer_window=answer_window)
        await audit_opened(conn, opened)
    return len(opened)


async def _dicts(items: AsyncIterator[Unmatched]) -> AsyncIterator[dict[str, Any]]:
    async for item in items:
        yield item.as_dict()


async def _rows(items: AsyncIterator[Unmatched]) -> AsyncIterator[list[str]]:
    async for item in items:
        yield item.csv_row()
