"""PostgreSQL stopped in the middle of a run and started again: the gateway rides it out.

The run has an embedded server of its own (not the session's, which every other test shares).
While it is down, /health answers 503 at once and so does an API request, with Retry-After;
nothing claimed, posted, transmitted or answered is lost, and once it is back every payment
settles exactly once without a restart of the gateway.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg

from paywire.store import migrator
from paywire.store.database import create_pool
from paywire.store.embedded import EmbeddedPostgres
from paywire.store.tx import Pool
from tests.chaos.run import SETTLED, count, strike_after, timeout_for, wait_finished
from tests.chaos.scale import seeded, size
from tests.fixtures.bulk import NACK_OVER, approve_mixed
from tests.fixtures.invariants import check_invariants
from tests.fixtures.postgres import TEST_SERVER_SETTINGS, server_dir
from tests.fixtures.tls import TLSFiles
from tests.fixtures.waiting import poll
from tests.fixtures.world import build_world
from tests.pipeline.processes import gateway_env, health, start_gateway, start_receiver


@asynccontextmanager
async def own_server() -> AsyncIterator[EmbeddedPostgres]:
    """A fresh embedded server (in a `server_dir`), migrated, stopped and removed after."""
    with server_dir("paywire-chaos-pg-") as data_dir:
        server = EmbeddedPostgres(data_dir, server_settings=TEST_SERVER_SETTINGS)
        try:
            info = await server.start()
            conn = await asyncpg.connect(info.dsn())
            try:
                await migrator.upgrade(conn, migrator.load())
            finally:
                await conn.close()
            yield server
        finally:
            await server.stop()


async def open_pool(dsn: str) -> Pool:
    return await create_pool(dsn, min_size=1, max_size=4, command_timeout=30)


async def test_postgres_restarted_mid_run_health_503_then_every_payment_settles_once(
    tls_files: TLSFiles, tmp_path: Path
) -> None:
    rng = seeded("postgres restart")
    payments = size(500, 3000)
    log = tmp_path / "receiver.jsonl"
    async with own_server() as server, AsyncExitStack() as stack:
        dsn = server.info.dsn()
        pool = await open_pool(dsn)
        world = await build_world(pool, pool)
        ids = await approve_mixed(world, payments)
        receiver, port = await start_receiver(
            tls_files, log, "--nack-amount-over", str(NACK_OVER), "--ack-delay-ms", "50",
            "--seed", str(rng.randrange(2**32)),
        )  # fmt: skip
        stack.push_async_callback(receiver.stop)
        # A narrow window (at most 160 answers a second) keeps the run going past the outage.
        env = gateway_env(
            dsn, tls_files, port, tmp_path, ack_timeout_s=2, pool_size=1, max_inflight=8
        )
        gateway, url = await start_gateway(env)
        stack.push_async_callback(gateway.stop)
        http = await stack.enter_async_context(aiohttp.ClientSession())

        await strike_after(pool, ids, rng.uniform(0.2, 0.6), rng, timeout_for(payments))
        assert await count(pool, SETTLED, ids) < payments, "the outage came after the run"
        await pool.close()
        port_before = server.info.port
        await server.stop()
        await _outage(http, url, seconds=rng.uniform(1.0, 3.0))
        assert (await server.start()).port == port_before
        pool = await open_pool(dsn)
        await poll(
            lambda: health(http, url),
            30,
            what="/health 200 after the restart",
            until=lambda answer: answer[0] == 200,
            interval_s=0.1,
        )

        await wait_finished(pool, ids, timeout_for(payments))
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait() == 0
        assert any("step failed, retrying" in line for line in gateway.lines)
        summary = await check_invariants(pool, ids, log, nack_over=NACK_OVER)
        await pool.close()
    print(summary)
    assert summary.completed + summary.failed == payments


async def _outage(http: aiohttp.ClientSession, url: str, seconds: float) -> None:
    """/health answers 503 `error` as soon as the database is gone, for as long as it is gone
    (`seconds`: how long the outage lasts), and the API 503 `UNAVAILABLE`, to be retried. That
    the answer is bounded by the check's timeout is tests/api/test_health.py's, against a server
    that never answers."""
    until = time.monotonic() + seconds
    answers = 0
    while answers == 0 or time.monotonic() < until:
        status, body = await health(http, url)
        assert status == 503, body
        assert body["status"] == "error"
        assert body["checks"]["database"]["status"] == "error"
        answers += 1
        await asyncio.sleep(0.2)
    # A login needs the database for its attempt counter before any password is checked.
    login = {"username": "maker", "password": "not the password"}
    async with http.post(f"{url}/api/v1/auth/login", json=login) as response:
        body = await response.json()
        assert response.status == 503, body
        assert response.headers["Retry-After"] == "1"
        assert body["error"]["code"] == "UNAVAILABLE"
