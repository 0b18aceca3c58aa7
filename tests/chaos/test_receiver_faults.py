"""A receiver that misbehaves in every way `paywire receiver` can, over one long run each.

Lossy: connections dropped mid-read, impossible frame headers, answers withheld, sent twice,
shuffled, and answers for messages never sent. Slow: every answer later than the ACK timeout,
duplicates and junk payloads between them. Either way each payment settles exactly as the
receiver decided, or, when every transmission went unanswered, stays TRANSMITTED with
ACK_MISSING; never FAILED without a NACK, never settled twice.
"""

from __future__ import annotations

import signal
from contextlib import AsyncExitStack
from pathlib import Path
from uuid import UUID

from paywire.store.tx import Pool
from tests.chaos.run import timeout_for, wait_finished
from tests.chaos.scale import seeded, size
from tests.fixtures.bulk import NACK_OVER, approve_mixed
from tests.fixtures.invariants import ReceiverLog, RunSummary, check_invariants
from tests.fixtures.tls import TLSFiles
from tests.fixtures.world import World
from tests.pipeline.processes import gateway_env, start_gateway, start_receiver


async def run(
    world: World,
    gateway_database: str,
    tls_files: TLSFiles,
    tmp_path: Path,
    payments: int,
    receiver_args: list[str],
    **settings: object,
) -> tuple[list[UUID], RunSummary]:
    """Approve `payments`, run one gateway against a receiver with `receiver_args` until every
    payment is finished, drain it, and check the invariants."""
    ids = await approve_mixed(world, payments)
    log = tmp_path / "receiver.jsonl"
    async with AsyncExitStack() as stack:
        receiver, port = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), *receiver_args
        )
        stack.push_async_callback(receiver.stop)
        env = gateway_env(gateway_database, tls_files, port, tmp_path, **settings)
        gateway, _ = await start_gateway(env)
        stack.push_async_callback(gateway.stop)
        await wait_finished(world.pool, ids, timeout_for(payments, per_second=10))
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
    summary = await check_invariants(
        world.pool, ids, log, max_attempts=int(str(settings["max_attempts"])), nack_over=NACK_OVER
    )
    print(summary)
    return ids, summary


async def test_a_lossy_receiver_drops_garbles_withholds_and_invents_answers(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    rng = seeded("lossy receiver")
    payments = size(1000, 10_000)
    _, summary = await run(
        world, gateway_database, tls_files, tmp_path, payments,
        [
            "--drop-after", "150",  # a connection closed after every 150 answers
            "--garbage-every", "300", "--garbage-kind", "header",  # and by a framing error
            "--no-answer-rate", "0.2",  # silence: a fifth of the transmissions unanswered
            "--duplicate-rate", "0.05",
            "--orphan-rate", "0.01",
            "--shuffle",
            "--seed", str(rng.randrange(2**32)),
        ],
        ack_timeout_s=1, max_attempts=3, pool_size=2, max_inflight=64, cb_reset_s=1,
    )  # fmt: skip
    # With a fifth withheld, about 1 % go unanswered three times: the give-up path is taken.
    assert summary.unanswered > 0
    assert summary.orphans > 0
    assert summary.completed + summary.failed + summary.unanswered == payments
    assert summary.failed > 0


async def test_a_slow_receiver_answers_after_the_timeout_and_every_payment_settles_once(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    rng = seeded("slow receiver")
    payments = size(500, 10_000)
    ids, summary = await run(
        world, gateway_database, tls_files, tmp_path, payments,
        [
            "--ack-delay-ms", "1500",  # every answer half a timeout late
            "--duplicate-rate", "0.1",
            "--garbage-every", "200", "--garbage-kind", "payload",  # junk between answers
            "--shuffle",
            "--seed", str(rng.randrange(2**32)),
        ],
        ack_timeout_s=1, max_attempts=5, pool_size=2, max_inflight=128,
    )  # fmt: skip
    assert summary.unanswered == 0
    assert summary.completed + summary.failed == payments
    # Late answers were not waited for: the messages went out again and were answered twice.
    assert await _resends(world.pool, ids) > 0
    log = await ReceiverLog.read(tmp_path / "receiver.jsonl")
    assert set(log.fresh.values()) == {1}


async def _resends(db: Pool, ids: list[UUID]) -> int:
    value = await db.fetchval(
        "SELECT sum(attempts - 1) FROM messages WHERE payment_id = ANY($1::uuid[])", ids
    )
    return int(value)
