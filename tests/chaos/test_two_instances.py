"""Two gateways on one database and one receiver; one is SIGKILLed mid-run and stays dead.

The survivor must take over everything the dead one had claimed or leased (once the leases
run out) and settle every payment exactly once. That a live process's lease is never taken over
early is the lease's own test (tests/services/test_pipeline.py), where the clock is given.
"""

from __future__ import annotations

import signal
from contextlib import AsyncExitStack
from pathlib import Path

from tests.chaos.run import (
    SETTLED,
    count,
    kill_scene,
    strike_after,
    timeout_for,
    wait_finished,
)
from tests.chaos.scale import seeded, size
from tests.fixtures.bulk import NACK_OVER, approve_mixed
from tests.fixtures.invariants import check_invariants
from tests.fixtures.tls import TLSFiles
from tests.fixtures.world import World
from tests.pipeline.processes import Process, kill, start_gateway


async def test_one_of_two_gateways_killed_mid_run_the_other_finishes_the_work(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    rng = seeded("two instances")
    payments = size(800, 5000)
    log = tmp_path / "receiver.jsonl"
    async with AsyncExitStack() as stack:
        env = await kill_scene(stack, rng, log, gateway_database, tls_files, tmp_path)
        gateways: list[Process] = []
        for _ in range(2):
            gateway, _ = await start_gateway(env)
            stack.push_async_callback(gateway.stop)
            gateways.append(gateway)
        # Approved while both run, so both claim from the start.
        ids = await approve_mixed(world, payments)
        victim, survivor = rng.sample(gateways, 2)
        await strike_after(world.pool, ids, rng.uniform(0.2, 0.7), rng, timeout_for(payments))
        await kill(victim)
        assert await count(world.pool, SETTLED, ids) < payments, "killed after the run"
        await wait_finished(world.pool, ids, timeout_for(payments))
        survivor.signal(signal.SIGTERM)
        assert await survivor.wait() == 0
    summary = await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)
    print(summary)
    assert summary.completed + summary.failed == payments
    senders = await world.pool.fetch(
        "SELECT split_part(sent_by, ':', 2)::int AS pid, count(*) AS n FROM messages"
        " WHERE payment_id = ANY($1::uuid[]) GROUP BY 1",
        ids,
    )
    # Both transmitted; what the dead one left in flight was settled all the same (above).
    assert {row["pid"] for row in senders} == {g.process.pid for g in gateways}
