"""A server the CA vouches for but the pin refuses gets nothing to the settler: what it writes
right behind its handshake is never read.

On asyncio's own loop (this suite's), the bytes a server sends with the end of its handshake
reach the protocol before `create_connection` returns; uvloop happens not to deliver them that
early, so the transport suite, on uvloop, cannot show it."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Callable
from typing import Any

from paywire.wire import Answer, build_pacs002, encode_frames
from tests.fixtures.tls import LOOPBACK, TLSFiles


def nack(msg_id: str) -> bytes:
    return build_pacs002(
        msg_id="IMPOSTOR1",
        created_at=datetime.datetime(2026, 11, 27, 9, 30, tzinfo=datetime.UTC),
        original_msg_id=msg_id,
        original_uetr="8a562c67-ca16-48ba-b074-65581be6f011",
        status="RJCT",
        reason_code="AC04",
    )


async def test_answers_from_a_server_the_pin_refuses_never_reach_the_settler(
    tls_files: TLSFiles, make_pool: Callable[..., Any]
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # its answers travel with the handshake

    async def answer_at_once(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(encode_frames([nack("PW20261127AAAAAAAA"), nack("PW20261127BBBBBBBB")]))
        await writer.drain()

    server = await asyncio.start_server(answer_at_once, LOOPBACK, 0, ssl=context)
    orphans: list[Answer] = []
    try:
        pool = await make_pool(
            server.sockets[0].getsockname()[1],
            pool_size=1,
            receiver_pin_sha256="00" * 32,
            cb_failure_threshold=100,
            on_unmatched=lambda answer, _payload: orphans.append(answer),
        )
        slot = pool.stats()["connections"][0]
    finally:
        server.close()
        await server.wait_closed()
    assert (slot["connects"], slot["last_error"][:26]) == (0, "certificate pin mismatch: ")
    assert orphans == []
