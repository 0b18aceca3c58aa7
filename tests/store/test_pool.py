"""Pooled connections go back without asyncpg's reset statement: what they must not carry over."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paywire.store import migrator
from paywire.store.database import create_pool
from paywire.store.migrator import MigrationError
from paywire.store.tx import Pool


@pytest.fixture
async def one_connection(empty_database: str) -> AsyncIterator[Pool]:
    """A pool of one connection, so every acquire gets back the connection released before."""
    pool = await create_pool(empty_database, min_size=1, max_size=1, command_timeout=30)
    yield pool
    await pool.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection: Pool) -> None:
    async with one_connection.acquire() as conn:
        await conn.execute("CREATE TABLE left_behind (n integer)")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO left_behind VALUES (1)")
    async with one_connection.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM left_behind") == 0


async def test_a_refused_migration_run_leaves_no_session_lock_on_the_connection(
    one_connection: Pool, tmp_path: Path
) -> None:
    changed = tmp_path / "migrations"
    shutil.copytree(migrator.default_directory(), changed)
    async with one_connection.acquire() as conn:
        await migrator.upgrade(conn, migrator.load())
    first = changed / "0001_operators.up.sql"
    first.write_text(first.read_text() + "\n-- an afterthought\n")

    async with one_connection.acquire() as conn:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrator.upgrade(conn, migrator.load(changed))
    async with one_connection.acquire() as conn:
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
    assert held == 0, "the next runner, in any process, would wait for this connection"
