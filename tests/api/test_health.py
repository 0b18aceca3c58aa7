"""GET /health: ok with a database, 503 without one or while draining, degraded without TLS."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import asyncpg

from paywire.api import create_app, health
from paywire.store import tx
from paywire.store.database import create_pool
from tests.api.world import World
from tests.fixtures.app import Serve
from tests.fixtures.postgres import SilentServer

# The pool's command timeout in the test of a database gone silent.
SILENT_COMMAND_TIMEOUT_S = 5.0


async def test_ok_database_without_transport_is_degraded(serve: Serve, settings, db_pool) -> None:
    client = await serve(create_app(settings, db_pool))
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["ledger"]["status"] == "ok"
    assert body["checks"]["tls"]["status"] == "degraded"


async def test_unreachable_database_is_503_error(serve: Serve, settings, unreachable_pool) -> None:
    client = await serve(create_app(settings, unreachable_pool))
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert "nobody" not in await response.text()
    # Not ready, but alive: a liveness probe must not restart a process the database left.
    live = await client.get("/health/live")
    assert (live.status, await live.json()) == (200, {"status": "alive"})


async def test_a_database_that_never_answers_is_503_error_within_the_check_timeout(
    serve: Serve, settings, monkeypatch, silent_server: SilentServer
) -> None:
    """A server that accepts and then says nothing (hung, or a route that drops packets): the
    check gives up after DB_CHECK_TIMEOUT_S and says so, rather than holding the probe until
    the balancer's own timeout."""
    monkeypatch.setattr(health, "DB_CHECK_TIMEOUT_S", 0.2)
    dsn = f"postgresql://nobody:x@127.0.0.1:{silent_server.port}/none"
    pool = await asyncpg.create_pool(dsn, min_size=0)
    try:
        client = await serve(create_app(settings, pool))
        response = await client.get("/health")
    finally:
        pool.terminate()
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["database"] == {"status": "error", "detail": "TimeoutError"}
    assert silent_server.connections, "the check reached the server"


async def test_a_database_gone_silent_under_an_open_pool_is_503_error_within_the_check_timeout(
    serve: Serve, settings, monkeypatch, database: str
) -> None:
    """A partition that drops packets leaves the pool's connections open, and the check takes
    one of them: it answers when its time is up rather than waiting, as the pool would, for the
    cancelled query to be confirmed (up to the command timeout: past the readiness probe's
    3 s and, at 10 s, past Prometheus' scrape). The silence is the real server's, its
    backends stopped."""
    monkeypatch.setattr(health, "DB_CHECK_TIMEOUT_S", 0.5)
    pool = await create_pool(
        database, min_size=2, max_size=2, command_timeout=SILENT_COMMAND_TIMEOUT_S
    )
    async with pool.acquire() as first, pool.acquire() as second:
        backends = [first.get_server_pid(), second.get_server_pid()]
    client = await serve(create_app(settings, pool))
    for pid in backends:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = await client.get("/health")
        took = time.monotonic() - started
    finally:
        for pid in backends:
            os.kill(pid, signal.SIGCONT)
        pool.terminate()
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["database"] == {"status": "error", "detail": "TimeoutError"}
    # A bound on waiting, not a measurement: the pool would have held it for its 5 s.
    assert took < SILENT_COMMAND_TIMEOUT_S / 2, took


async def test_draining_is_503_error(serve: Serve, settings, db_pool) -> None:
    draining = asyncio.Event()
    client = await serve(create_app(settings, db_pool, draining=draining))
    assert (await client.get("/health")).status == 200
    draining.set()
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "error"
    assert body["checks"]["draining"]["status"] == "error"


async def test_a_pool_with_every_connection_busy_is_degraded_not_down(
    serve: Serve, settings, db_pool, monkeypatch
) -> None:
    """Ready and alive: the database is there, only busy; the pool's own alert says so."""
    monkeypatch.setattr(health, "DB_CHECK_TIMEOUT_S", 0.2)
    client = await serve(create_app(settings, db_pool))
    held = [await db_pool.acquire() for _ in range(db_pool.get_max_size())]
    try:
        response = await client.get("/health")
    finally:
        for conn in held:
            await db_pool.release(conn)
    assert response.status == 200
    database = (await response.json())["checks"]["database"]
    assert database == {"status": "degraded", "detail": f"all {len(held)} connections in use"}


async def test_a_request_that_finds_every_connection_busy_is_503_instead_of_waiting(
    world: World, db_pool, monkeypatch
) -> None:
    """The degraded pool seen from a request: past tx.POOL_WAIT_S the client is told to retry.
    asyncpg alone would hold the request until a connection came back, without a bound."""
    monkeypatch.setattr(tx, "POOL_WAIT_S", 0.2)
    await world.login("maker")
    held = [await db_pool.acquire() for _ in range(db_pool.get_max_size())]
    try:
        async with asyncio.timeout(30):  # a hang guard: unbounded, the request never returns
            response = await world.client.get("/api/v1/payments", headers=world.auth("maker"))
    finally:
        for conn in held:
            await db_pool.release(conn)
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"] == "1"
    assert (await response.json())["error"]["code"] == "UNAVAILABLE"
    again = await world.client.get("/api/v1/payments", headers=world.auth("maker"))
    assert again.status == 200, await again.text()
