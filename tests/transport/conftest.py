"""Run these tests on uvloop, the loop paywire runs on in production, and leave no task behind.

`scripted_receiver` is a TLS server that misbehaves as a test scripts it (pools come from
tests/fixtures/tls.py's `make_pool`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from tests.fixtures.tls import LOOPBACK, TLSFiles
from tests.fixtures.uvloop import pytest_asyncio_loop_factories
from tests.transport.support import Script

__all__ = ["pytest_asyncio_loop_factories"]


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Every pool a test made is closed by then; a task still running is a leak."""
    yield
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, leftovers


@pytest_asyncio.fixture
async def scripted_receiver(tls_files: TLSFiles) -> AsyncIterator[Callable[[Script], Any]]:
    """`port = await scripted_receiver(script)`: a TLS server on loopback with the receiver's
    certificate that runs `script(reader, writer)` on each connection, for what the reference
    receiver never does; every connection is closed after the test."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(script: Script) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await script(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(serve, LOOPBACK, 0, ssl=context)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()
