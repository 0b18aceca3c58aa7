"""GET /health: ok with a database, 503 without one or while draining, degraded without TLS."""

from __future__ import annotations

import asyncio

from paywire.api import create_app
from tests.api.conftest import Serve


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
