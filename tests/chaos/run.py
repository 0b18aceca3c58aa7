"""What every chaos scenario shares: waiting for a run to finish, and the moment to strike; and
what the kill scenarios share, their receiver and gateways.

A run is finished when every payment is settled (COMPLETED or FAILED) or was given up on
(TRANSMITTED with ACK_MISSING open); waits poll the database with a deadline, never the clock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from uuid import UUID

from paywire.store.tx import Pool
from tests.fixtures.bulk import NACK_OVER
from tests.fixtures.tls import TLSFiles
from tests.fixtures.waiting import poll
from tests.pipeline.processes import gateway_env, start_receiver

FINISHED = """
SELECT count(*) FROM payments p
WHERE p.id = ANY($1::uuid[])
  AND (p.status IN ('COMPLETED', 'FAILED')
       OR (p.status = 'TRANSMITTED' AND EXISTS (
               SELECT 1 FROM exceptions x
               WHERE x.payment_id = p.id AND x.kind = 'ACK_MISSING' AND x.state = 'OPEN')))
"""
SETTLED = """
SELECT count(*) FROM payments
WHERE id = ANY($1::uuid[]) AND status IN ('COMPLETED', 'FAILED')
"""
POLL_S = 0.1


async def count(db: Pool, sql: str, ids: Sequence[UUID]) -> int:
    return int(await db.fetchval(sql, list(ids)))


async def wait_count(
    db: Pool, sql: str, ids: Sequence[UUID], at_least: int, timeout_s: float, what: str
) -> None:
    """Poll `sql` (a count over `ids`) until it reaches `at_least`; fail after `timeout_s`
    with the last count."""
    await poll(
        lambda: count(db, sql, ids),
        timeout_s,
        what=f"{at_least} of {len(ids)} payments {what}",
        until=lambda done: done >= at_least,
        interval_s=POLL_S,
    )


async def wait_finished(db: Pool, ids: Sequence[UUID], timeout_s: float) -> None:
    await wait_count(db, FINISHED, ids, len(ids), timeout_s, "finished")


async def strike_after(
    db: Pool, ids: Sequence[UUID], fraction: float, rng: random.Random, timeout_s: float
) -> None:
    """Return at a random moment once `fraction` of the payments are settled: the moment to
    kill something, chosen by the seeded `rng` so that a run can be replayed."""
    await wait_count(db, SETTLED, ids, max(1, int(len(ids) * fraction)), timeout_s, "settled")
    await asyncio.sleep(rng.uniform(0.0, 0.1))  # a random instant, not a wait for anything


def timeout_for(payments: int, per_second: float = 20.0, floor_s: float = 60.0) -> float:
    """A deadline generous for a loaded 2-core machine: `per_second` is a pessimistic rate."""
    return max(floor_s, payments / per_second)


async def kill_scene(
    stack: AsyncExitStack,
    rng: random.Random,
    log: Path,
    gateway_database: str,
    tls_files: TLSFiles,
    tmp_path: Path,
) -> dict[str, str]:
    """Start the receiver of a kill scenario (answers 50 ms late and shuffled, NACKs over
    NACK_OVER, its log in `log`), stopped with `stack`, and return the
    environment of its gateways: a short ACK timeout, so that a restarted or surviving process
    takes a dead one's leases over soon, and a narrow window (at most 160 answers a second per
    gateway), which keeps the run going past a kill."""
    receiver, port = await start_receiver(
        tls_files, log, "--nack-amount-over", str(NACK_OVER),
        "--ack-delay-ms", "50", "--shuffle", "--seed", str(rng.randrange(2**32)),
    )  # fmt: skip
    stack.push_async_callback(receiver.stop)
    return gateway_env(
        gateway_database, tls_files, port, tmp_path, ack_timeout_s=2, pool_size=1, max_inflight=8
    )
