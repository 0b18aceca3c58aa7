"""Opening the database: a server that cannot be used is refused saying where and what to check."""

from __future__ import annotations

import socket
from pathlib import Path
from uuid import UUID

import pytest

from paywire.config import Settings
from paywire.domain.statuses import Status
from paywire.errors import DatabaseUnavailable
from paywire.store import payments as payment_store
from paywire.store.database import create_pool, open_database
from paywire.store.tx import transaction
from tests.fixtures.postgres import SilentServer
from tests.fixtures.settings import given_each_way
from tests.fixtures.waiting import poll
from tests.fixtures.world import World


@pytest.mark.parametrize("pool_min", [2, 0])
async def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(
    silent_server: SilentServer, tmp_path: Path, pool_min: int
) -> None:
    """A blackholed address gave a minute of silence (the driver's own timeout), then an empty
    `TimeoutError: `; the message now says what happened and what to check. A pool that opens
    no connection at start (PAYWIRE_DB_POOL_MIN=0) is refused alike, not at its first use."""
    dsn = f"postgresql://ops:s3cret-pw@127.0.0.1:{silent_server.port}/paywire"
    settings = Settings(database_url=dsn, data_dir=tmp_path, db_pool_min=pool_min)

    with pytest.raises(DatabaseUnavailable) as refused:
        await open_database(settings, connect_timeout=0.2)

    assert refused.value.message == (
        f"cannot open the database at 127.0.0.1:{silent_server.port}/paywire: no answer within"
        " 0.2 s; check DATABASE_URL and that the server is reachable from here (address, port,"
        " firewall)"
    )
    assert silent_server.connections, "the driver reached the server and waited for its answer"


async def test_a_server_at_an_ipv6_address_is_named_with_the_address_in_brackets(
    tmp_path: Path,
) -> None:
    """It was `::1:PORT/paywire`, which reads as ::1 port PORT or as an address without one."""
    with socket.socket(socket.AF_INET6) as nothing_listens:
        nothing_listens.bind(("::1", 0))
        port = nothing_listens.getsockname()[1]
        settings = Settings(
            database_url=f"postgresql://ops@[::1]:{port}/paywire", data_dir=tmp_path
        )
        with pytest.raises(DatabaseUnavailable) as refused:
            await open_database(settings)

    assert refused.value.message.startswith(
        f"cannot open the database at [::1]:{port}/paywire: ConnectionRefusedError: "
    )


async def test_a_database_url_is_named_where_it_was_set(tmp_path: Path) -> None:
    """One the --config file set was named DATABASE_URL, which the environment did not hold: it
    is named by its key and the file, one from the environment by its variable."""
    with socket.socket() as nothing_listens:
        nothing_listens.bind(("127.0.0.1", 0))
        url = f"postgresql://ops@127.0.0.1:{nothing_listens.getsockname()[1]}/paywire"
        for settings, name, where in given_each_way(tmp_path, database_url=url):
            with pytest.raises(DatabaseUnavailable) as refused:
                await open_database(settings)
            assert refused.value.message.endswith(
                f"; check {name('database_url')}{where} and that the server is running and"
                " accepts this user"
            )


async def test_payments_claimed_by_a_client_gone_silent_are_freed_for_the_other_gateways(
    database: str, world: World
) -> None:
    """A host gone without closing its connections (a lost node, a partition) leaves its
    session idle in its transaction, holding the payments it claimed: SKIP LOCKED had every
    other gateway pass them over until the kernel gave up on the connection, two hours later
    (SPEC §5: work left for five minutes is driven on). The server rolls such a transaction
    back once it has waited on its client for as long as a statement may run."""
    (approved,) = await world.approved(["10.00"])
    gone = await create_pool(database, min_size=1, max_size=1, command_timeout=0.5)
    try:
        conn = await gone.acquire()
        claimed = conn.transaction()
        await claimed.start()
        assert await payment_store.claim(conn, Status.APPROVED, 10) == [approved]

        async def claim_elsewhere() -> list[UUID]:
            async with transaction(world.pool) as other:
                return await payment_store.claim(other, Status.APPROVED, 10)

        # The client says nothing more, as a vanished host does.
        assert await poll(claim_elsewhere, 10, what="the claim freed") == [approved]
    finally:
        gone.terminate()


async def test_every_session_asks_for_keepalives_and_the_gateway_s_for_an_idle_limit(
    database: str,
) -> None:
    """A host gone silent is found out by the server within about a minute: by keepalives while
    its session waits on it, by the time its data stays unacknowledged otherwise. The limit on
    a transaction waiting on its client is the gateway's (its statements' timeout) alone: the
    periodic jobs' snapshot waits on their other connection, a report's on a slow download."""
    shown = (
        "SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),"
        " current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout'),"
        " current_setting('idle_in_transaction_session_timeout')"
    )
    seen = []
    for command_timeout in (10.0, None):
        pool = await create_pool(database, min_size=1, max_size=1, command_timeout=command_timeout)
        try:
            seen.append(tuple(await pool.fetchrow(shown)))
        finally:
            await pool.close()
    assert seen == [("30", "10", "3", "60000", "10s"), ("30", "10", "3", "60000", "0")]
