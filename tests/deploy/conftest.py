"""A live deployment in miniature for the deploy tests: the reference receiver and `paywire
serve` as real processes, configured through their environment as an operator would, on this
test's PostgreSQL database, with payments that went through the API to settlement.

Everything listens on 127.0.0.1; processes are stopped (SIGTERM, then waited for) after the test.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fixtures.tls import TLSFiles
from tests.fixtures.waiting import poll
from tests.fixtures.world import PASSWORD, World, payment_body
from tests.pipeline.processes import Process, gateway_env, start_gateway, start_receiver

# The receiver NACKs (AM04) larger amounts: payments over this fail, the others complete.
NACK_OVER = "900"
# How often the deploy tests ask the gateway or Prometheus while they wait: as a client would.
PROBE_EVERY_S = 0.1


@dataclass
class Live:
    """The running gateway and what a test needs to talk to it and to its database."""

    url: str
    dsn: str  # the schema owner's, for the runbook's backups and queries
    env: dict[str, str]  # the gateway's own environment (PAYWIRE_*, its login's DATABASE_URL)
    world: World
    http: aiohttp.ClientSession
    gateway: Process
    receiver: Process
    payments: dict[str, str] = field(default_factory=dict)  # id -> final status

    async def login(self, username: str) -> str:
        async with self.http.post(
            f"{self.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            token: str = (await response.json())["token"]
            return token

    async def call(self, method: str, path: str, token: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, f"{self.url}{path}", headers=headers, **kw) as r:
            assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json()

    async def pay(self, *amounts: str) -> list[str]:
        """Enter one payment per amount as `maker`, approve them as `checker`, and wait until
        the receiver's answers settled them all."""
        maker, checker = await self.login("maker"), await self.login("checker")
        ids = []
        for amount in amounts:
            created = await self.call(
                "POST", "/api/v1/payments", maker, json=payment_body(amount=amount)
            )
            await self.call("POST", f"/api/v1/payments/{created['id']}/approve", checker)
            ids.append(created["id"])

        async def statuses() -> dict[str, str]:
            rows = await self.world.pool.fetch(
                "SELECT id::text, status FROM payments WHERE id = ANY($1::uuid[])", ids
            )
            return {row["id"]: row["status"] for row in rows}

        def settled(now: dict[str, str]) -> bool:
            done = all(s in ("COMPLETED", "FAILED") for s in now.values())
            return done and len(now) == len(ids)

        self.payments.update(
            await poll(
                statuses,
                60,
                what=f"payments {amounts} settled",
                until=settled,
                interval_s=PROBE_EVERY_S,
            )
        )
        return ids


@pytest.fixture
async def live(
    world: World, database: str, gateway_database: str, tls_files: TLSFiles, tmp_path: Path
) -> AsyncIterator[Live]:
    receiver, port = await start_receiver(
        tls_files, tmp_path / "receiver.jsonl", "--nack-amount-over", NACK_OVER
    )
    gateway: Process | None = None
    try:
        env = gateway_env(gateway_database, tls_files, port, tmp_path / "logs")
        gateway, url = await start_gateway(env)
        async with aiohttp.ClientSession() as http:
            yield Live(url, database, env, world, http, gateway, receiver)
    finally:
        for child in (gateway, receiver):
            if child is not None:
                child.signal(signal.SIGTERM)
                try:
                    await child.wait(60)
                except TimeoutError:
                    await child.stop()  # SIGKILL
