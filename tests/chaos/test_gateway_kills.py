"""The gateway SIGKILLed three times at random moments of one run, restarted each time.

Whatever was claimed, posted, transmitted or answered but not yet written when a process died
must end settled exactly once: the restarted process waits out the dead one's leases, resends,
and the receiver answers the resends from its de-duplication memory.
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
from tests.pipeline.processes import kill, start_gateway

KILLS = 3


async def test_three_sigkills_at_random_moments_lose_and_double_nothing(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    rng = seeded("sigkill")
    payments = size(600, 5000)
    ids = await approve_mixed(world, payments)
    # Kill points spread over the run, each one a random share of the payments settled.
    fractions = sorted(rng.uniform(0.05, 0.7) for _ in range(KILLS))
    log = tmp_path / "receiver.jsonl"
    timeout = timeout_for(payments)
    async with AsyncExitStack() as stack:
        env = await kill_scene(stack, rng, log, gateway_database, tls_files, tmp_path)
        for fraction in fractions:
            gateway, _ = await start_gateway(env)
            stack.push_async_callback(gateway.stop)
            await strike_after(world.pool, ids, fraction, rng, timeout)
            await kill(gateway)
            assert await count(world.pool, SETTLED, ids) < payments, "killed after the run"
        gateway, _ = await start_gateway(env)
        stack.push_async_callback(gateway.stop)
        await wait_finished(world.pool, ids, timeout)
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
    summary = await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)
    print(summary)
    assert summary.unanswered == 0  # three kills cost at most three of the five attempts
    assert summary.completed + summary.failed == payments
    assert summary.failed == len(ids[::10])
