"""A receiver that goes silent: in the TLS handshake, at the opening heartbeat, or once open.
Each is found within its own deadline, so that no message waits out its whole answer timeout
on a connection whose other end no longer answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from paywire.transport import Unanswered
from tests.fixtures.metrics import metric
from tests.fixtures.postgres import SilentServer
from tests.fixtures.tls import TLSFiles, pacs008
from tests.fixtures.waiting import poll
from tests.transport.support import HEARTBEAT, first_attempt, read_to_the_end


async def falls_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers the opening heartbeat, then reads and never writes again: a half-open
    connection, or a receiver hung with its kernel still taking our bytes."""
    assert await reader.readexactly(4) == HEARTBEAT
    writer.write(HEARTBEAT)
    await read_to_the_end(reader)


async def test_a_listener_that_never_starts_the_handshake_is_a_failed_attempt(
    tls_files: TLSFiles, silent_server: SilentServer
) -> None:
    """TCP is accepted and the server never answers the client's hello."""
    before = metric("tls_connection_errors_total", reason="connect")
    slot = await first_attempt(tls_files, silent_server.port, connect_timeout_s=0.5)
    assert silent_server.connections, "the pool reached the listener"
    assert (slot["state"], slot["connects"]) == ("CLOSED", 0)
    assert slot["last_error"] == (
        f"connecting to 127.0.0.1:{silent_server.port} timed out after 0.5 s"
    )
    assert metric("tls_connection_errors_total", reason="connect") == before + 1


async def test_a_receiver_that_never_answers_the_opening_heartbeat_is_a_failed_attempt(
    tls_files: TLSFiles, scripted_receiver: Callable[..., Any]
) -> None:
    """The handshake completes, then nothing: the connection is never counted as open."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_to_the_end(reader)

    port = await scripted_receiver(mute)
    before = metric("tls_connection_errors_total", reason="heartbeat")
    slot = await first_attempt(tls_files, port, connect_timeout_s=0.5, heartbeat_s=1)
    assert (slot["state"], slot["connects"]) == ("CLOSED", 0)
    assert slot["last_error"] == (
        f"127.0.0.1:{port} did not answer the opening heartbeat within 0.5 s"
    )
    assert metric("tls_connection_errors_total", reason="heartbeat") == before + 1


async def test_a_receiver_gone_silent_after_opening_fails_the_messages_in_flight(
    scripted_receiver: Callable[..., Any],
    make_pool: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A half-open connection: the next heartbeat goes unanswered, so the message in flight
    ends `connection_lost` within a second, not after the 60 s answer timeout, and the pool
    dials again."""
    before = metric("tls_connection_errors_total", reason="heartbeat")
    pool = await make_pool(
        await scripted_receiver(falls_silent), pool_size=1, heartbeat_s=0.2, ack_timeout_s=60
    )
    assert pool.open_connections == 1
    # The reason tells the heartbeat's verdict from the 60 s answer timeout; the guard, longer
    # than that, only stops a test that would hang.
    async with asyncio.timeout(120):
        with pytest.raises(Unanswered, match="connection_lost"):
            await pool.send("S1", pacs008("S1"))
    assert metric("tls_connection_errors_total", reason="heartbeat") == before + 1
    assert any(
        m.endswith(" ended: receiver silent for 0.2 s after a heartbeat") for m in caplog.messages
    ), caplog.messages
    await poll(lambda: pool.stats()["connections"][0]["connects"] == 2, what="a second connect")


async def test_a_receiver_that_hangs_under_steady_load_is_found_by_a_heartbeat(
    scripted_receiver: Callable[..., Any], make_pool: Callable[..., Any]
) -> None:
    """The same half-open connection, but we keep writing to it, a message every 50 ms, which
    the kernel accepts whether or not the receiver reads. Writing is no sign of the receiver:
    the heartbeat still goes out after 0.2 s of its silence and the connection ends within a
    second, where counting our own writes as traffic had kept it for the 60 s answer timeout
    of every message sent to it."""
    before = metric("tls_connection_errors_total", reason="heartbeat")
    pool = await make_pool(
        await scripted_receiver(falls_silent), pool_size=1, heartbeat_s=0.2, ack_timeout_s=60
    )
    sends: list[asyncio.Future[Any]] = []

    async def keep_sending() -> None:
        for n in range(200):
            sends.append(asyncio.ensure_future(pool.send(f"L{n}", pacs008(f"L{n}"))))
            await asyncio.sleep(0.05)

    sender = asyncio.create_task(keep_sending())
    try:
        await poll(lambda: sends and sends[0].done(), 5, what="the first message ended")
        with pytest.raises(Unanswered, match="connection_lost"):
            sends[0].result()
        assert metric("tls_connection_errors_total", reason="heartbeat") == before + 1
    finally:
        sender.cancel()
        for send in sends:
            send.cancel()
        await asyncio.gather(sender, *sends, return_exceptions=True)
