"""Run these tests on uvloop, the loop paywire runs on in production, and leave no task behind.

`make_pool` builds pools against the in-process receivers of tests/fixtures/tls.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import pytest_asyncio
import uvloop

from paywire.transport import ConnectionPool
from tests.fixtures.tls import TLSFiles, gateway_settings


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Every pool a test made is closed by then; a task still running is a leak."""
    yield
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, leftovers


@pytest_asyncio.fixture
async def make_pool(tls_files: TLSFiles) -> AsyncIterator[Callable[..., Any]]:
    """`await make_pool(port, on_orphan=..., clock=..., **settings)`; closed after the test."""
    pools: list[ConnectionPool] = []

    async def make(port: int, *, start: bool = True, **settings: Any) -> ConnectionPool:
        options = {k: settings.pop(k) for k in ("on_orphan", "clock", "tick_s") if k in settings}
        pool = ConnectionPool(
            gateway_settings(tls_files, port, **settings),
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            connect_timeout_s=5.0,
            **options,
        )
        pools.append(pool)
        if start:
            await pool.start()
        return pool

    yield make
    for pool in pools:
        await pool.close(deadline_s=0.5)
