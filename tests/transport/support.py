"""Helpers shared by the transport tests: a fake clock, a pool's first attempt, and the shape
of a scripted receiver's script (conftest's `scripted_receiver`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from paywire.transport import ConnectionPool
from tests.fixtures.tls import TLSFiles, gateway_settings

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEARTBEAT = b"\0\0\0\0"  # an empty u32be frame


async def read_to_the_end(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def first_attempt(
    tls_files: TLSFiles, port: int, connect_timeout_s: float = 5.0, **settings: Any
) -> dict[str, Any]:
    """Start a one-connection pool, return its slot's stats after the first attempt, close it.
    Each step of opening has `connect_timeout_s`, and no second attempt comes within the test."""
    pool = ConnectionPool(
        gateway_settings(tls_files, port, pool_size=1, cb_failure_threshold=100, **settings),
        connect_timeout_s=connect_timeout_s,
        backoff_base_s=60.0,
    )
    await pool.start()
    try:
        slot: dict[str, Any] = pool.stats()["connections"][0]
        return slot
    finally:
        await pool.close(deadline_s=1.0)


class FakeClock:
    """A clock the test moves by hand (`clock.now += 30`), for a breaker's or pool's periods."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
