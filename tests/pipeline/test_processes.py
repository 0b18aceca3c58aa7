"""`paywire serve` as real processes: refusal without settings, SIGKILL and restart, SIGTERM
drain, two instances on one queue, a receiver that goes away and comes back.

Every test ends with the invariants of SPEC §4 and §5 checked over the database and the
receiver's own log.
"""

from __future__ import annotations

import signal
from contextlib import AsyncExitStack
from pathlib import Path
from uuid import UUID

import aiohttp

from tests.fixtures.bulk import NACK_OVER, approve_mixed
from tests.fixtures.invariants import check_invariants
from tests.fixtures.ports import free_port
from tests.fixtures.tls import TLSFiles
from tests.fixtures.waiting import poll
from tests.fixtures.world import World
from tests.pipeline.processes import (
    Process,
    gateway_env,
    health,
    kill,
    start_gateway,
    start_receiver,
)


async def count_status(world: World, ids: list[UUID], *statuses: str) -> int:
    value = await world.pool.fetchval(
        "SELECT count(*) FROM payments WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])",
        ids,
        list(statuses),
    )
    return int(value)


async def wait_until(world: World, ids: list[UUID], count: int, *statuses: str) -> None:
    await poll(
        lambda: count_status(world, ids, *statuses),
        120,
        what=f"{count} of {len(ids)} payments {statuses}",
        until=lambda found: found >= count,
        interval_s=0.05,
    )


async def test_serve_refuses_to_start_without_the_receiver_naming_the_variable(
    gateway_database: str, tmp_path: Path
) -> None:
    child = await Process.spawn(
        "serve",
        env={"DATABASE_URL": gateway_database, "PAYWIRE_LOG_DIR": str(tmp_path)},
    )
    try:
        assert await child.wait() == 2
    finally:
        await child.stop()  # one that started instead of refusing must not outlive the test
    output = "\n".join(child.lines)
    assert "PAYWIRE_RECEIVER_HOST" in output
    assert "PAYWIRE_SENDER_BIC" in output


async def test_sigkill_mid_run_then_restart_settles_every_payment_exactly_once(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.jsonl"
    async with AsyncExitStack() as stack:
        receiver, port = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), "--ack-delay-ms", "100"
        )
        stack.push_async_callback(receiver.stop)
        # A narrow window and slow answers keep the run going long enough to be cut in the
        # middle; a short ACK timeout lets the restarted process take over the dead one's leases.
        env = gateway_env(
            gateway_database,
            tls_files,
            port,
            tmp_path,
            ack_timeout_s=1,
            pool_size=2,
            max_inflight=8,
        )
        ids = await approve_mixed(world, 300)
        gateway = await started(stack, env)
        await wait_until(world, ids, 60, "COMPLETED", "FAILED")
        await kill(gateway)
        assert await count_status(world, ids, "COMPLETED", "FAILED") < len(ids)
        gateway = await started(stack, env)
        await wait_until(world, ids, len(ids), "COMPLETED", "FAILED")
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
    await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)


async def test_sigterm_drains_in_flight_answers_and_exits_zero(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.jsonl"
    async with AsyncExitStack() as stack:
        receiver, port = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), "--ack-delay-ms", "500"
        )
        stack.push_async_callback(receiver.stop)
        env = gateway_env(gateway_database, tls_files, port, tmp_path)
        ids = await approve_mixed(world, 40)
        gateway = await started(stack, env)
        await wait_until(world, ids, 1, "TRANSMITTED")
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
        # Every transmission that was in flight got its answer before the process ended.
        assert await count_status(world, ids, "TRANSMITTED") == 0
        assert "stop requested: draining" in "\n".join(gateway.lines)
        gateway = await started(stack, env)
        await wait_until(world, ids, len(ids), "COMPLETED", "FAILED")
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
    await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)


async def test_two_instances_share_one_queue_and_settle_each_payment_once(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.jsonl"
    async with AsyncExitStack() as stack:
        receiver, port = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), "--ack-delay-ms", "50"
        )
        stack.push_async_callback(receiver.stop)
        env = gateway_env(gateway_database, tls_files, port, tmp_path, pool_size=1, max_inflight=16)
        gateways = [await started(stack, env) for _ in range(2)]
        ids = await approve_mixed(world, 400)
        await wait_until(world, ids, len(ids), "COMPLETED", "FAILED")
        for gateway in gateways:
            gateway.signal(signal.SIGTERM)
        assert [await g.wait() for g in gateways] == [0, 0]
    senders = await world.pool.fetch(
        "SELECT split_part(sent_by, ':', 2) AS pid, count(*) AS n FROM messages GROUP BY 1"
    )
    assert {int(row["pid"]) for row in senders} == {g.process.pid for g in gateways}
    await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)


async def test_a_receiver_outage_opens_the_breaker_payments_wait_then_flow(
    world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.jsonl"
    port = free_port()
    async with AsyncExitStack() as stack:
        receiver, _ = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), port=port
        )
        stack.push_async_callback(receiver.stop)
        env = gateway_env(
            gateway_database, tls_files, port, tmp_path, cb_failure_threshold=2, cb_reset_s=1,
            ack_timeout_s=2,
        )  # fmt: skip
        gateway, url = await start_gateway(env)
        stack.push_async_callback(gateway.stop)
        await receiver.stop()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        await _wait_health(http, url, "OPEN")
        ids = await approve_mixed(world, 20)
        await wait_until(world, ids, len(ids), "POSTED")
        receiver, _ = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), port=port
        )
        stack.push_async_callback(receiver.stop)
        await wait_until(world, ids, len(ids), "COMPLETED", "FAILED")
        await _wait_health(http, url, "CLOSED")
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
    await check_invariants(world.pool, ids, log, nack_over=NACK_OVER)


async def started(stack: AsyncExitStack, env: dict[str, str]) -> Process:
    """`paywire serve`, stopped (killed if still running) when `stack` closes."""
    gateway, _ = await start_gateway(env)
    stack.push_async_callback(gateway.stop)
    return gateway


async def _wait_health(http: aiohttp.ClientSession, url: str, breaker: str) -> None:
    _, body = await poll(
        lambda: health(http, url),
        60,
        what=f"/health with the breaker {breaker}",
        until=lambda answer: answer[1]["checks"]["circuit_breaker"]["state"] == breaker,
        interval_s=0.1,
    )
    assert body["status"] == ("ok" if breaker == "CLOSED" else "degraded")
