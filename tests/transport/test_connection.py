"""A connection's read path fed frames directly: answers no conforming receiver sends.

The reference receiver only writes answers the wire core builds (lower-case UETRs, MsgIds of at
most 35 characters), so these go straight into `data_received`, the method the TLS transport
calls with each read.
"""

from __future__ import annotations

import asyncio
import datetime

from paywire.transport.connection import Connection, ConnectionOptions, ConnectionStats
from paywire.transport.settled import RecentlySettled
from paywire.wire import Answer, build_pacs002, encode_frames
from tests.transport.support import metric

UETR = "8a562c67-ca16-48ba-b074-65581be6f011"


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


async def test_answers_are_matched_by_valid_msg_ids_and_lower_case_uetrs() -> None:
    orphans: list[Answer] = []
    conn = Connection(
        "c0",
        ConnectionOptions("u32be", 1 << 20, ack_timeout_s=10.0, heartbeat_s=0.0, tick_s=1.0),
        ConnectionStats(),
        RecentlySettled(16),
        on_orphan=lambda answer, _payload: orphans.append(answer),
        on_progress=lambda _freed, _answered: None,
    )
    future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    conn.submit("M1", b"<pacs.008/>", UETR, future)
    await asyncio.sleep(0)  # the write of what was queued (there is no transport to write to)
    unparseable = metric("tls_protocol_anomalies_total", kind="unparseable")
    mismatches = metric("tls_protocol_anomalies_total", kind="uetr_mismatch")

    conn.data_received(
        encode_frames(
            [
                ack("X" * 8000, UETR),  # names no message paywire could have sent
                ack("M" * 36, UETR),
                ack("M1", UETR.upper()),  # the same UETR: hex has no case
            ]
        )
    )

    assert future.done(), "the upper-case UETR settles the message it names"
    assert future.result().uetr == UETR
    assert orphans == [], "an over-long MsgId is malformed, not an orphan for the settler"
    assert metric("tls_protocol_anomalies_total", kind="unparseable") == unparseable + 2
    assert metric("tls_protocol_anomalies_total", kind="uetr_mismatch") == mismatches
    assert conn.inflight == {}
    assert conn.stats.acks == 1
