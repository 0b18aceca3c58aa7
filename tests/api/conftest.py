"""Fixtures of the API tests: the app around a real database (`db_pool` from
`tests/fixtures/postgres.py`), HTTP clients, and a seeded world of operators and accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paywire.api import create_app
from paywire.config import Settings
from paywire.store.tx import Pool
from tests.api.world import World, make_world
from tests.fixtures.tls import DISCARD_PORT

Serve = Callable[[web.Application], Awaitable[TestClient]]


@pytest.fixture
async def unreachable_pool() -> AsyncIterator[asyncpg.Pool]:
    """A pool whose server does not exist: nothing listens on DISCARD_PORT."""
    pool = await asyncpg.create_pool(
        f"postgresql://nobody:x@127.0.0.1:{DISCARD_PORT}/none", min_size=0
    )
    yield pool
    await pool.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(log_dir=tmp_path / "logs", data_dir=tmp_path / "data")


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start an app on a real loopback port and hand back a client for it."""
    clients: list[TestClient] = []

    async def start(app: web.Application) -> TestClient:
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def world(serve: Serve, settings: Settings, db_pool: Pool) -> World:
    """The app on a seeded database, with a session for every operator of `OPERATORS`."""
    return await make_world(await serve(create_app(settings, db_pool)), db_pool)
