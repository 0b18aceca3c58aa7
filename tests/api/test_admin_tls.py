"""ADMIN's TLS view and breaker reset against a real ConnectionPool, and /health with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paywire.api import create_app
from paywire.store.database import create_pool
from paywire.transport.pool import ConnectionPool
from tests.api.world import World, make_world
from tests.fixtures.app import Serve
from tests.fixtures.ports import free_port
from tests.fixtures.tls import REFUSING_PORT, gateway_settings

TLS = "/api/v1/admin/tls"
RESET = "/api/v1/admin/tls/circuit-breaker/reset"


@pytest.fixture
async def pools() -> AsyncIterator[list[ConnectionPool]]:
    started: list[ConnectionPool] = []
    yield started
    for pool in started:
        await pool.close(deadline_s=1)


async def gateway(serve: Serve, db_pool, settings, pools, transport_settings) -> World:
    transport = ConnectionPool(transport_settings, backoff_base_s=0.05, backoff_max_s=0.2)
    await transport.start()
    pools.append(transport)
    client = await serve(create_app(settings, db_pool, transport=transport))
    return await make_world(client, db_pool)


async def test_without_transport_the_tls_endpoints_are_503(world: World) -> None:
    for response in (
        await world.client.get(TLS, headers=world.auth("admin")),
        await world.client.post(RESET, headers=world.auth("admin")),
    ):
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "UNAVAILABLE"


async def test_only_admins_see_or_reset_the_pool(world: World) -> None:
    assert (await world.client.get(TLS, headers=world.auth("checker"))).status == 403
    assert (await world.client.post(RESET, headers=world.auth("auditor"))).status == 403
    assert (await world.client.get(TLS)).status == 401


async def test_pool_up_shows_connections_and_health_is_ok(
    serve: Serve, db_pool, settings, pools, tls_files, start_receiver
) -> None:
    receiver = await start_receiver()
    world = await gateway(
        serve, db_pool, settings, pools, gateway_settings(tls_files, receiver.port, pool_size=2)
    )
    response = await world.client.get(TLS, headers=world.auth("admin"))
    assert response.status == 200
    status = await response.json()
    assert len(status["connections"]) == 2
    assert status["totals"]["open"] == 2
    assert status["circuit_breaker"]["state"] == "CLOSED"
    for connection in status["connections"]:
        assert {"state", "inflight", "sent", "acks", "nacks"} <= set(connection)
    health = await world.client.get("/health")
    assert health.status == 200
    body = await health.json()
    assert body["status"] == "ok"
    assert body["checks"]["tls"] == {"status": "ok", "connections_up": 2}


async def test_open_breaker_degrades_health_and_an_audited_reset_closes_it(
    serve: Serve, db_pool, settings, pools, tls_files
) -> None:
    unreachable = gateway_settings(
        tls_files, REFUSING_PORT, pool_size=1, cb_failure_threshold=1, cb_reset_s=3600
    )
    world = await gateway(serve, db_pool, settings, pools, unreachable)
    health = await (await world.client.get("/health")).json()
    assert health["status"] == "degraded"
    assert health["checks"]["circuit_breaker"] == {"status": "degraded", "state": "OPEN"}
    assert health["checks"]["tls"]["connections_up"] == 0

    response = await world.client.post(RESET, headers=world.auth("admin"))
    assert response.status == 200
    assert await response.json() == {"state": "CLOSED", "previous_state": "OPEN"}
    audit = await world.client.get(
        "/api/v1/audit-logs",
        params={"action": "tls.circuit_breaker.reset"},
        headers=world.auth("auditor"),
    )
    rows = (await audit.json())["items"]
    assert len(rows) == 1
    assert rows[0]["operator"] == "admin"
    assert rows[0]["before"] == {"state": "OPEN"}
    assert rows[0]["after"] == {"state": "CLOSED"}
    assert rows[0]["request_id"] == response.headers["X-Request-Id"]


async def test_a_reset_the_audit_log_cannot_record_does_not_happen(
    serve: Serve, database: str, db_pool, settings, pools, tls_files, start_receiver
) -> None:
    """The chain head is held elsewhere, so the reset's audit row waits out the command
    timeout: the request fails with a 503 to retry, and the breaker stays open, unrecorded.
    The receiver is up by then, so a reset that happened anyway would show: its slot dials at
    once and connects, where an open breaker waits out its hour."""
    port = free_port()
    down = gateway_settings(tls_files, port, pool_size=1, cb_failure_threshold=1, cb_reset_s=3600)
    impatient = await create_pool(database, min_size=1, max_size=2, command_timeout=0.5)
    try:
        world = await gateway(serve, impatient, settings, pools, down)
        await world.grant("admin")
        await start_receiver(port=port)
        async with db_pool.acquire() as holder, holder.transaction():
            await holder.execute("SELECT 1 FROM audit_chain FOR UPDATE")
            response = await world.client.post(RESET, headers=world.auth("admin"))
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["error"]["code"] == "UNAVAILABLE"
        status = await (await world.client.get(TLS, headers=world.auth("admin"))).json()
        assert status["circuit_breaker"]["state"] == "OPEN"
        assert status["totals"]["open"] == 0
        recorded = await db_pool.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'tls.circuit_breaker.reset'"
        )
        assert recorded == 0
    finally:
        await impatient.close()
