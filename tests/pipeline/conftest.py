"""An in-process gateway on the test's database and a real receiver over real TLS.

`start_gateway(rules=..., faults=..., **settings)` runs the pipeline as `serve` runs it, without
the admin surface; the harness waits on the database, never on the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
import uvloop

from paywire.pipeline.runner import Pipeline
from paywire.pipeline.settler import Settler
from paywire.receiver import Faults, Receiver, Rules
from paywire.transport.pool import ConnectionPool
from tests.fixtures.tls import StartReceiver, TLSFiles, gateway_settings
from tests.fixtures.world import World

SETTLED = ("COMPLETED", "FAILED")


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    return {"uvloop": uvloop.new_event_loop}


@dataclass
class Gateway:
    world: World
    receiver: Receiver
    pool: ConnectionPool
    pipeline: Pipeline

    async def statuses(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        rows = await self.world.pool.fetch(
            "SELECT id, status FROM payments WHERE id = ANY($1::uuid[])", list(ids)
        )
        return {row["id"]: row["status"] for row in rows}

    async def wait_for(
        self, ids: Iterable[UUID], statuses: Iterable[str] = SETTLED, timeout_s: float = 60.0
    ) -> dict[UUID, str]:
        """Poll until every payment is in one of `statuses`; fail with what is left after."""
        wanted, ids = set(statuses), list(ids)
        deadline = time.monotonic() + timeout_s
        while True:
            now = await self.statuses(ids)
            if all(status in wanted for status in now.values()):
                return now
            if time.monotonic() > deadline:
                left = {s for s in now.values() if s not in wanted}
                raise AssertionError(f"still not {sorted(wanted)} after {timeout_s} s: {left}")
            await asyncio.sleep(0.02)

    async def row(self, sql: str, *args: object, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until `sql` returns a row; fail after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            row = await self.world.pool.fetchrow(sql, *args)
            if row is not None:
                return dict(row)
            assert time.monotonic() < deadline, f"no row after {timeout_s} s: {sql}"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        await self.pipeline.drain(5.0)
        await self.pool.close(deadline_s=0)


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(
    world: World, start_receiver: StartReceiver, tls_files: TLSFiles
) -> AsyncIterator[StartGateway]:
    started: list[Gateway] = []

    async def start(
        *, rules: Rules | None = None, faults: Faults | None = None, **settings: Any
    ) -> Gateway:
        receiver = await start_receiver(rules=rules, faults=faults)
        values = {"sender_bic": "PAYWDEFFXXX", "receiver_bic": "RCVRGB2LXXX", **settings}
        config = gateway_settings(tls_files, receiver.port, **values)
        settler = Settler(world.pool, world.ledger)
        pool = ConnectionPool(config, on_orphan=lambda answer, _payload: settler.add(answer))
        pipeline = Pipeline(config, world.pool, pool, settler, world.ledger, world.rules)
        await pool.start()
        pipeline.start()
        gateway = Gateway(world, receiver, pool, pipeline)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()
