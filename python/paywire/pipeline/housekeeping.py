"""The periodic jobs of a running gateway: the reconciliation sweep every minute (closing the
previous day in full once a day), retention at start and then daily.

Each job is a StepLoop whose step makes one run and reports nothing taken, so the loop rests for
the job's period; a failed run is retried with the loop's backoff. Both jobs are idempotent, so
every gateway process on a database may run them. They run on a pool of their own without the
gateway's statement timeout: the close of a big day or a retention purge may rightly take longer,
and a run cancelled at the timeout would be retried, and cancelled, for ever.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

from paywire.config import Settings
from paywire.pipeline.loop import StepLoop
from paywire.services import reconciliation, retention
from paywire.store.tx import Pool

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 60.0
# How far back the first sweep of a process looks at the payments that moved: it knows nothing
# of the sweeps before it, which may have failed for as long as it was away.
FIRST_LOOKBACK = timedelta(days=1)
RETENTION_EVERY_S = 24 * 3600.0
# A failed retention run is tried again after at most this long, not the pipeline's 5 s: each
# run takes the audit chain's head, which every audited write waits for.
RETENTION_RETRY_MAX_S = 300.0


class Housekeeping:
    # The connections the jobs' pool needs at most: the sweep opens exceptions while its
    # snapshot stays open (two), and retention may run beside it (one).
    CONNECTIONS = 3

    def __init__(
        self,
        settings: Settings,
        db: Pool,
        *,
        sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self._settings = settings
        self._db = db
        self._closed: date | None = None
        self._swept_at: datetime | None = None  # the moment of the last sweep that got through
        self._loops = (
            StepLoop("reconcile", self._sweep, batch=1, idle_s=sweep_every_s),
            StepLoop(
                "retention",
                self._retention,
                batch=1,
                idle_s=RETENTION_EVERY_S,
                backoff_max_s=RETENTION_RETRY_MAX_S,
            ),
        )

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    async def stop(self, within_s: float | None = None) -> None:
        """Let a run under way finish, then stop; one still running after `within_s` is
        cancelled, its transaction rolls back, and the next start runs it again."""
        await asyncio.gather(*(loop.stop(within_s) for loop in self._loops))

    async def _sweep(self, _limit: int) -> int:
        moment = datetime.now(UTC)
        # The first sweep of each UTC day (and of the process) closes the day before: all of it.
        yesterday = moment.date() - timedelta(days=1)
        # The payments that moved since an hour before the last sweep that got through (what
        # committed after its snapshot), not only in the last hour: sweeps that failed for
        # longer (a database away) would leave the changes made meanwhile to payments of days
        # already closed unchecked for good.
        last = self._swept_at
        since = moment - FIRST_LOOKBACK if last is None else last - reconciliation.RECENT
        swept = await reconciliation.sweep(
            self._db,
            answer_window=reconciliation.answer_window(self._settings),
            as_of=moment,
            close_day=yesterday if self._closed != yesterday else None,
            since=since,
        )
        self._closed = yesterday
        self._swept_at = moment
        if swept.opened:
            log.warning(
                "reconciliation opened %d exceptions; %d items unmatched",
                swept.opened,
                swept.unmatched,
            )
        return 0

    async def _retention(self, _limit: int) -> int:
        run = await retention.run(
            self._db,
            retention_years=self._settings.audit_retention_years,
            log_dir=self._settings.log_dir,
        )
        log.info("retention run", extra=run.as_dict())
        return 0
