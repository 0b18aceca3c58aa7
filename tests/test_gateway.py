"""One gateway process in this one: `run_gateway` on the test's database and a real receiver,
for what only the whole process shows (its pools, its periodic jobs, how it ends)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from paywire.config import Settings
from paywire.errors import DatabaseUnavailable
from paywire.gateway import run_gateway
from tests.fixtures.tls import REFUSING_PORT, StartReceiver, TLSFiles, gateway_settings
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import World

# The drain's 5 s (settings_for) and the admin surface's shutdown, with room to spare.
STOP_TIMEOUT_S = 30.0


def paywire_tasks() -> list[asyncio.Task[object]]:
    """The gateway's own background tasks still running (its loops, settler and TLS slots)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("paywire-") and not t.done()]


async def settings_for(
    database: str,
    start_receiver: StartReceiver,
    tls_files: TLSFiles,
    tmp_path: Path,
    **overrides: Any,
) -> Settings:
    receiver = await start_receiver()
    values: dict[str, Any] = {
        "database_url": database,
        "sender_bic": "PAYWDEFFXXX",
        "receiver_bic": "RCVRGB2LXXX",
        "http_host": "127.0.0.1",
        "http_port": 0,
        "log_dir": tmp_path,
        "drain_timeout_s": 5,
    }
    return gateway_settings(tls_files, receiver.port, **(values | overrides))


async def test_a_caller_that_fails_after_start_still_gets_a_drained_and_closed_gateway(
    gateway_database: str, start_receiver: StartReceiver, tls_files: TLSFiles, tmp_path: Path
) -> None:
    settings = await settings_for(gateway_database, start_receiver, tls_files, tmp_path)
    started: list[str] = []

    def fail_when_ready(url: str) -> None:
        started.append(url)
        assert paywire_tasks(), "the gateway's loops should be running by now"
        raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError, match="the caller failed"):
        await run_gateway(settings, on_ready=fail_when_ready)
    assert started
    assert paywire_tasks() == []


async def test_a_stop_asked_for_while_it_starts_claims_no_payment(
    world: World,
    gateway_database: str,
    start_receiver: StartReceiver,
    tls_files: TLSFiles,
    tmp_path: Path,
) -> None:
    """A SIGTERM's handler only sets `stop`; one arriving on the way up (the pool dials for up
    to its connect timeout) must start no stage, or their first steps screen and post (debit
    the ledger) before the drain begins. SPEC §10: no new work is claimed."""
    ids = await world.approved(["10.00"] * 5)
    settings = await settings_for(gateway_database, start_receiver, tls_files, tmp_path)
    stop = asyncio.Event()
    stop.set()
    await run_gateway(settings, stop=stop)
    statuses = await world.pool.fetch(
        "SELECT DISTINCT status FROM payments WHERE id = ANY($1::uuid[])", ids
    )
    assert [row["status"] for row in statuses] == ["APPROVED"]
    assert paywire_tasks() == []


async def test_the_url_it_is_ready_at_can_be_opened_on_an_ipv6_address_too(
    gateway_database: str, start_receiver: StartReceiver, tls_files: TLSFiles, tmp_path: Path
) -> None:
    """It was `http://::1:PORT`, which no browser or client opens."""
    settings = await settings_for(
        gateway_database, start_receiver, tls_files, tmp_path, http_host="::1"
    )
    stop = asyncio.Event()
    health: list[int] = []

    async def ready(url: str) -> None:
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as answer:
                health.append(answer.status)
        finally:
            stop.set()

    asked: list[asyncio.Task[None]] = []
    await run_gateway(
        settings, stop=stop, on_ready=lambda url: asked.append(asyncio.create_task(ready(url)))
    )
    await asyncio.gather(*asked)
    assert health == [200]


async def test_the_periodic_jobs_wait_as_long_as_they_must_not_the_statement_timeout(
    database: str,
    gateway_database: str,
    start_receiver: StartReceiver,
    tls_files: TLSFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway's statements time out after 0.2 s here; its sweep and retention run, held up
    well past that by a lock on the audit log (both read it), wait and then complete once."""
    settings = await settings_for(
        gateway_database, start_receiver, tls_files, tmp_path, db_command_timeout_s=0.2
    )
    caplog.set_level(logging.WARNING, logger="paywire.pipeline.loop")
    holder, watcher = await asyncpg.connect(database), await asyncpg.connect(database)
    stop = asyncio.Event()
    gateway: asyncio.Task[None] | None = None
    try:
        locked = holder.transaction()
        await locked.start()
        await holder.execute("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE")
        gateway = asyncio.create_task(run_gateway(settings, stop=stop))
        # A statement of the gateway that has waited for the lock three times its timeout (seen
        # from a connection of its own: in the holder's transaction the view would not change).
        await poll(
            lambda: lock_waiters(watcher, waited_s=0.6),
            30,
            what="a statement of the gateway waiting for the lock",
        )
        await locked.rollback()
        await poll(
            lambda: watcher.fetchval(
                "SELECT count(*) FROM audit_logs WHERE action = 'retention.run'"
            ),
            30,
            what="a retention run audited",
        )
    finally:
        stop.set()
        try:
            if gateway is not None:
                # A stop drains and returns None; a crash or a drain that hangs fails the test
                # (wait_for cancels a gateway still running after the timeout).
                assert await asyncio.wait_for(gateway, STOP_TIMEOUT_S) is None
        finally:
            await holder.close()
            await watcher.close()
    failed = [r.getMessage() for r in caplog.records if "step failed" in r.getMessage()]
    assert failed == []


@pytest.mark.parametrize(("login", "warned"), [("gateway", False), ("owner", True)])
async def test_a_gateway_logged_in_as_the_schema_s_owner_says_so(
    database: str,
    gateway_database: str,
    start_receiver: StartReceiver,
    tls_files: TLSFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    login: str,
    warned: bool,
) -> None:
    """An owner (or a superuser) could turn the records' triggers off; the gateway runs as one
    only if it was deployed wrong, and says so at start rather than refusing an existing
    deployment."""
    dsn = gateway_database if login == "gateway" else database
    settings = await settings_for(dsn, start_receiver, tls_files, tmp_path)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="paywire.gateway"):
        await run_gateway(settings, stop=stop, on_ready=lambda _: stop.set())
    warnings = [r.getMessage() for r in caplog.records if "owns the schema" in r.getMessage()]
    assert len(warnings) == warned
    if warned:
        assert "member of paywire_gateway" in warnings[0]


async def test_a_gateway_that_cannot_start_leaves_no_signal_handler_behind(
    start_receiver: StartReceiver, tls_files: TLSFiles, tmp_path: Path
) -> None:
    """Its stop signals would otherwise go on setting an event nobody waits for, and SIGTERM
    would no longer end the process that tried."""
    refused = f"postgresql://paywire:pw@127.0.0.1:{REFUSING_PORT}/paywire"
    settings = await settings_for(refused, start_receiver, tls_files, tmp_path)
    with pytest.raises(
        DatabaseUnavailable, match=f"cannot open the database at 127.0.0.1:{REFUSING_PORT}/"
    ):
        await run_gateway(settings)
    loop = asyncio.get_running_loop()
    assert [loop.remove_signal_handler(s) for s in (signal.SIGTERM, signal.SIGINT)] == [False] * 2
