"""Fixtures of the API tests: the app factory around a database pool, and an HTTP client."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paywire.api import create_app
from paywire.config import Settings
from paywire.store import migrator
from paywire.store.database import create_pool
from paywire.store.embedded import EmbeddedPostgres, ServerInfo
from paywire.store.tx import Pool
from tests.api.world import World, seed

Serve = Callable[[web.Application], Awaitable[TestClient]]


@pytest.fixture
async def unreachable_pool() -> AsyncIterator[asyncpg.Pool]:
    """A pool whose server does not exist: port 9 (discard) on loopback refuses connections."""
    pool = await asyncpg.create_pool("postgresql://nobody:x@127.0.0.1:9/none", min_size=0)
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


_TEMPLATE = "paywire_api_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerInfo]:
    """One embedded PostgreSQL for the session with a migrated template database. Its data dir
    is directly under /tmp: pytest's own temporary dirs are closed to PostgreSQL's account."""
    data_dir = Path(tempfile.mkdtemp(prefix="paywire-api-"))
    server = EmbeddedPostgres(data_dir)
    info = asyncio.run(server.start())
    try:
        asyncio.run(_make_template(info))
        yield info
    finally:
        asyncio.run(server.stop())
        shutil.rmtree(data_dir, ignore_errors=True)


async def _make_template(info: ServerInfo) -> None:
    admin = await asyncpg.connect(info.dsn())
    try:
        await admin.execute(f"CREATE DATABASE {_TEMPLATE}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(info.dsn(_TEMPLATE))
    try:
        await migrator.upgrade(conn, migrator.load())
    finally:
        await conn.close()


async def fresh_pool(server: ServerInfo) -> Pool:
    """A pool on a fresh, migrated database of its own."""
    name = f"t_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(server.dsn())
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}")
    finally:
        await admin.close()
    return await create_pool(server.dsn(name), min_size=1, max_size=4, command_timeout=10)


@pytest.fixture
async def db_pool(pg_server: ServerInfo) -> AsyncIterator[Pool]:
    pool = await fresh_pool(pg_server)
    yield pool
    await pool.close()


@pytest.fixture
async def world(serve: Serve, settings: Settings, db_pool: Pool) -> World:
    """The app on a seeded database, with a session for every operator of `OPERATORS`."""
    client = await serve(create_app(settings, db_pool))
    found = World(client, db_pool, await seed(db_pool))
    for name in found.operators:
        await found.grant(name)
    return found
