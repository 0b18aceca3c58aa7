"""Fixtures of the API tests: a seeded world of operators and accounts behind the app
(`settings` and `serve` from `tests/fixtures/app.py`, `db_pool` from `tests/fixtures/postgres.py`),
and a database pool to nowhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from paywire.api import create_app
from paywire.config import Settings
from paywire.store.tx import Pool
from tests.api.world import World, make_world
from tests.fixtures.app import Serve
from tests.fixtures.tls import REFUSING_PORT


@pytest.fixture
async def unreachable_pool() -> AsyncIterator[asyncpg.Pool]:
    """A pool whose server does not exist: nothing listens on REFUSING_PORT."""
    pool = await asyncpg.create_pool(
        f"postgresql://nobody:x@127.0.0.1:{REFUSING_PORT}/none", min_size=0
    )
    yield pool
    await pool.close()


@pytest.fixture
async def world(serve: Serve, settings: Settings, db_pool: Pool) -> World:
    """The app on a seeded database, with a session for every operator of `OPERATORS`."""
    return await make_world(await serve(create_app(settings, db_pool)), db_pool)
