"""Answers no conforming receiver sends, written over real TLS by a receiver that lies.

The reference receiver only writes answers the wire core builds (lower-case UETRs, MsgIds of at
most 35 characters), so a scripted TLS server answers the gateway's message with these.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest_asyncio

from paywire.wire import Answer, build_pacs002, encode_frames
from tests.fixtures.tls import LOOPBACK, TLSFiles
from tests.transport.support import metric

UETR = "8a562c67-ca16-48ba-b074-65581be6f011"
MESSAGE = b"<pacs.008/>"


def ack(msg_id: str, uetr: str) -> bytes:
    """A pacs.002 ACSP naming `msg_id` and `uetr` as given, whatever the builder would refuse."""
    document = build_pacs002(
        msg_id="PWR1",
        created_at=datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC),
        original_msg_id="PLACEHOLDER",
        original_uetr=UETR,
        status="ACSP",
    )
    return document.replace(b"PLACEHOLDER", msg_id.encode()).replace(UETR.encode(), uetr.encode())


@pytest_asyncio.fixture
async def lying_receiver(tls_files: TLSFiles) -> AsyncIterator[Callable[[Sequence[bytes]], Any]]:
    """`port = await lying_receiver(answers)`: a TLS server that, once the gateway's message has
    arrived, writes `answers` as frames in one write, and keeps the connection open."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
    servers: list[asyncio.Server] = []
    streams: list[asyncio.StreamWriter] = []

    async def start(answers: Sequence[bytes]) -> int:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            streams.append(writer)
            received = b""
            while MESSAGE not in received:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                received += chunk
            writer.write(encode_frames(list(answers)))
            await writer.drain()

        server = await asyncio.start_server(answer, LOOPBACK, 0, ssl=context)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for writer in streams:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_answers_are_matched_by_valid_msg_ids_and_lower_case_uetrs(
    lying_receiver: Callable[[Sequence[bytes]], Any], make_pool: Callable[..., Any]
) -> None:
    port = await lying_receiver(
        [
            ack("X" * 8000, UETR),  # names no message paywire could have sent
            ack("M" * 36, UETR),
            ack("M1", UETR.upper()),  # the same UETR: hex has no case
        ]
    )
    orphans: list[Answer] = []
    pool = await make_pool(
        port,
        pool_size=1,
        heartbeat_s=0,
        on_orphan=lambda answer, _payload: orphans.append(answer),
    )
    unparseable = metric("tls_protocol_anomalies_total", kind="unparseable")
    mismatches = metric("tls_protocol_anomalies_total", kind="uetr_mismatch")

    answer = await pool.send("M1", MESSAGE, uetr=UETR)

    assert answer.kind == "ACK", "the upper-case UETR settles the message it names"
    assert answer.uetr == UETR
    assert orphans == [], "an over-long MsgId is malformed, not an orphan for the settler"
    assert metric("tls_protocol_anomalies_total", kind="unparseable") == unparseable + 2
    assert metric("tls_protocol_anomalies_total", kind="uetr_mismatch") == mismatches
    totals = pool.stats()["totals"]
    assert (totals["inflight"], totals["acks"], totals["open"]) == (0, 1, 1)
