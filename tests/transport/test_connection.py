"""Answers no conforming receiver sends, written over real TLS by a receiver that lies.

The reference receiver only writes answers the wire core builds (lower-case UETRs, MsgIds of at
most 35 characters), so a scripted TLS server (`scripted_receiver`) answers with these.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from paywire.transport import BreakerState, ConnectionPool, Unanswered
from paywire.transport.connection import Connection, OutcomeHandler
from paywire.wire import Answer, build_pacs002, encode_frames
from tests.fixtures.metrics import metric
from tests.fixtures.waiting import poll
from tests.transport.support import FakeClock, Script

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


def nack(msg_id: str, uetr: str) -> bytes:
    """The same pacs.002, rejecting."""
    return ack(msg_id, uetr).replace(b"ACSP", b"RJCT")


async def read_messages(reader: asyncio.StreamReader, received: bytearray, count: int) -> None:
    """Read until `count` messages in all have arrived (heartbeats are off in these tests)."""
    while received.count(MESSAGE) < count:
        chunk = await reader.read(65536)
        assert chunk, "closed before the messages arrived"
        received += chunk


async def test_answers_are_matched_by_valid_msg_ids_and_lower_case_uetrs(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    answers = [
        ack("X" * 8000, UETR),  # names no message paywire could have sent
        ack("M" * 36, UETR),
        ack("M1", UETR.upper()),  # the same UETR: hex has no case
    ]

    async def lie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Once the message has arrived, all three answers in one write."""
        received = b""
        while MESSAGE not in received:
            received += await reader.read(65536)
        writer.write(encode_frames(answers))
        await writer.drain()

    port = await scripted_receiver(lie)
    orphans: list[Answer] = []
    pool = await make_pool(
        port,
        pool_size=1,
        heartbeat_s=0,
        on_unmatched=lambda answer, _payload: orphans.append(answer),
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


async def test_a_flood_of_junk_is_counted_frame_by_frame_and_logged_in_a_line(
    scripted_receiver: Callable[[Script], Any],
    make_pool: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A thousand junk frames in one write, then the answer: each junk frame is an anomaly in
    the metric, and the log gets one line of them, the first (it had one per frame, each
    formatted, scrubbed and written on the event loop)."""
    junk = 1000

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = b""
        while MESSAGE not in received:
            received += await reader.read(65536)
        writer.write(encode_frames([b"<junk/>"] * junk + [ack("M1", UETR)]))
        await writer.drain()

    pool = await make_pool(await scripted_receiver(flood), pool_size=1, heartbeat_s=0)
    unparseable = metric("tls_protocol_anomalies_total", kind="unparseable")

    with caplog.at_level(logging.WARNING, logger="paywire.transport"):
        answer = await pool.send("M1", MESSAGE, uetr=UETR)

    assert answer.kind == "ACK"
    assert metric("tls_protocol_anomalies_total", kind="unparseable") == unparseable + junk
    lines = [m for m in caplog.messages if m.startswith("protocol anomaly")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("protocol anomaly: unparseable: 7-byte payload: "), lines


async def test_a_flood_of_heartbeats_gets_an_answer_per_write_not_per_heartbeat(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """200,000 heartbeats in a few writes: paywire answered every other one (the rest taken for
    echoes of its answers), so a receiver could make it buffer half as many bytes as it sent,
    for as long as it kept sending; now one answer goes with each write, however many
    heartbeats were read since the last."""
    heartbeats = 200_000
    flood_read = asyncio.Event()
    written = asyncio.get_running_loop().create_future()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(heartbeats // 10_000):
            writer.write(encode_frames([b""] * 10_000))
            await writer.drain()
        # Then an answer naming no message: once paywire has read it, it has read the flood.
        writer.write(encode_frames([ack("AFTER-THE-FLOOD", UETR)]))
        await writer.drain()
        written.set_result(await reader.read())  # all paywire wrote, until it closed

    pool = await make_pool(
        await scripted_receiver(flood),
        pool_size=1,
        heartbeat_s=30,
        on_unmatched=lambda _answer, _payload: flood_read.set(),
    )
    await asyncio.wait_for(flood_read.wait(), 60)
    await pool.close(deadline_s=0)  # writes what is queued, then closes
    received = await asyncio.wait_for(written, 30)
    assert set(received) == {0}, "paywire wrote nothing but heartbeats (u32be: four zero bytes)"
    answers = len(received) // 4 - 1  # the first is the opening heartbeat
    assert 1 <= answers <= heartbeats // 100


def heartbeats_in(stream: bytes) -> int:
    """How many frames of `stream` (u32be length, then the payload) are empty: heartbeats."""
    count = offset = 0
    while offset < len(stream):
        length = int.from_bytes(stream[offset : offset + 4], "big")
        count += length == 0
        offset += 4 + length
    assert offset == len(stream), "the stream ends inside a frame"
    return count


class Observed:
    """The connection's protocol callbacks, watched (each still does all its work): whether the
    transport has paused our writes, and each read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes_paused = asyncio.Event()
        self.read = asyncio.Event()
        pause_writing, data_received = Connection.pause_writing, Connection.data_received

        def paused(conn: Connection) -> None:
            pause_writing(conn)
            self.writes_paused.set()

        def received(conn: Connection, data: bytes) -> None:
            data_received(conn, data)
            self.read.set()

        monkeypatch.setattr(Connection, "pause_writing", paused)
        monkeypatch.setattr(Connection, "data_received", received)


async def test_heartbeats_read_while_our_writes_are_paused_get_one_answer_when_they_resume(
    scripted_receiver: Callable[[Script], Any],
    make_pool: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receiver that stops reading while we write fills our buffer past its high-water mark;
    its heartbeats meanwhile, each in a read of its own, are owed one answer, written when our
    writes resume. One per read would grow the buffer without limit; none would leave a
    receiver that wants its heartbeats answered dropping the connection."""
    heartbeats, messages = 20, 24
    observed = Observed(monkeypatch)
    all_messages_read = asyncio.Event()
    written = asyncio.get_running_loop().create_future()

    async def stop_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)  # the opening heartbeat
        writer.write(encode_frames([b""]))
        await observed.writes_paused.wait()
        for _ in range(heartbeats):
            observed.read.clear()
            writer.write(encode_frames([b""]))
            await writer.drain()
            await asyncio.wait_for(observed.read.wait(), 10)  # read alone, before the next
        received = bytearray()
        while len(received) < messages * len(encode_frames([message])):
            chunk = await reader.read(1 << 20)
            assert chunk, "closed before every message arrived"
            received += chunk
        all_messages_read.set()
        received += await reader.read()  # the rest, until paywire closes
        written.set_result(bytes(received))

    message = b"<pacs.008>" + b"x" * (1_000_000 - 21) + b"</pacs.008>"
    pool = await make_pool(
        await scripted_receiver(stop_reading), pool_size=1, heartbeat_s=30, ack_timeout_s=60
    )
    # Two writes of 12 MB each. The first alone is more than the kernel's buffers on both sides
    # of loopback hold (4 MiB to send, the unread side's window), so it fills the socket's
    # transport, which then takes nothing more from the TLS layer; the second waits in the TLS
    # layer's buffer above it, which pauses us. (Written together, in one write, they would
    # all pass through the TLS layer at once and never pause it.)
    half = messages // 2
    sends = [asyncio.ensure_future(pool.send(f"M{n}", message)) for n in range(half)]
    try:
        await poll(lambda: pool.stats()["totals"]["sent"] == half, what="the first write made")
        sends += [asyncio.ensure_future(pool.send(f"M{n}", message)) for n in range(half, messages)]
        await asyncio.wait_for(observed.writes_paused.wait(), 10)
        await asyncio.wait_for(all_messages_read.wait(), 30)
        await pool.close(deadline_s=0)  # writes what is queued, then closes
        received = await asyncio.wait_for(written, 30)
    finally:
        for send in sends:
            send.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
    assert received.count(b"<pacs.008>") == messages
    assert heartbeats_in(received) == 1


class StopsReading:
    """A receiver that echoes the opening heartbeat, then reads nothing more while it keeps
    each connection alive with heartbeats of its own, until `end`."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.running = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.running += 1
        try:
            await reader.readexactly(4)  # the opening heartbeat
            while not self.done.is_set():
                writer.write(encode_frames([b""]))
                await asyncio.sleep(0.05)
        finally:
            self.running -= 1

    async def end(self) -> None:
        self.done.set()
        await poll(lambda: self.running == 0, what="the receiver's scripts ended")


# Sixteen messages of a megabyte fill the TLS layer's buffer past its high-water mark at once.
STALLING_INFLIGHT = 16
BIG_MESSAGE = b"<pacs.008>" + b"x" * (1_000_000 - 21) + b"</pacs.008>"


async def keep_sending(pool: ConnectionPool, told: OutcomeHandler) -> None:
    """Batches of `STALLING_INFLIGHT` big messages, each waiting at most half a second."""
    for n in itertools.count():
        batch = [(f"S{n}-{i}", BIG_MESSAGE, None) for i in range(STALLING_INFLIGHT)]
        await pool.submit_many(batch, told, queue_by=asyncio.get_running_loop().time() + 0.5)
        await asyncio.sleep(0.01)  # refused at once (the breaker open), it must not spin


@contextlib.asynccontextmanager
async def sending_to(
    pool: ConnectionPool, receiver: StopsReading, told: OutcomeHandler
) -> AsyncIterator[None]:
    """`keep_sending` for as long as the block runs; then the receiver's scripts end too."""
    sending = asyncio.ensure_future(keep_sending(pool, told))
    try:
        yield
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await receiver.end()


async def test_a_receiver_that_stops_reading_gets_no_more_messages_and_is_dropped(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """The messages written to a receiver that stopped reading time out in our buffer; the
    room they free must not take more (every answer timeout another `max_inflight` of them,
    for as long as the receiver kept it up), and a connection whose writes have not moved for
    a whole answer timeout is given up, reason `stalled`."""
    receiver = StopsReading()
    stalled = metric("tls_connection_errors_total", reason="stalled")
    pool = await make_pool(
        await scripted_receiver(receiver),
        pool_size=1,
        heartbeat_s=0.5,
        ack_timeout_s=1.0,
        max_inflight=STALLING_INFLIGHT,
    )
    outcomes: list[str] = []

    def told(_msg_id: str, outcome: Answer | Unanswered) -> None:
        outcomes.append(outcome.reason if isinstance(outcome, Unanswered) else outcome.kind)

    async with sending_to(pool, receiver, told):
        await poll(
            lambda: metric("tls_connection_errors_total", reason="stalled") > stalled,
            timeout_s=10,
            what="the stalled connection given up",
        )
    first = pool.stats()["connections"][0]
    assert first["sent"] <= 2 * STALLING_INFLIGHT, "messages were handed to a paused connection"
    assert outcomes.count("timeout") <= 2 * STALLING_INFLIGHT
    assert "no_room" in outcomes, "senders waited for room while the writes were paused"


async def test_connections_that_stall_one_after_another_open_the_breaker(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """The receiver's heartbeats prove nothing of a connection it took none of our writes on:
    counted as proven, each stall reset the run of failures, and the breaker never opened
    however many connections stalled in a row."""
    receiver = StopsReading()
    pool = await make_pool(
        await scripted_receiver(receiver),
        pool_size=1,
        heartbeat_s=0.5,
        ack_timeout_s=1.0,
        max_inflight=STALLING_INFLIGHT,
        cb_failure_threshold=2,
        clock=FakeClock(),  # an OPEN breaker stays so: no probe in the test
    )
    async with sending_to(pool, receiver, lambda _msg_id, _outcome: None):
        await poll(
            lambda: pool.breaker.state is BreakerState.OPEN,
            timeout_s=15,
            what="the breaker OPEN after two stalls",
        )


async def test_a_connection_given_up_in_the_read_that_confirmed_it_does_not_open(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """The opening heartbeat's echo and a bad frame header in one write: the read that
    confirms the connection also gives it up. It must not then open (its messages would be
    written nowhere), nor, as a HALF_OPEN probe, close the breaker on a failure."""

    async def echo_then_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        writer.write(encode_frames([b""]) + (1 << 30).to_bytes(4, "big"))
        await writer.drain()
        await reader.read()

    errors = metric("tls_connection_errors_total", reason="protocol")
    pool = await make_pool(
        await scripted_receiver(echo_then_garbage),
        pool_size=1,
        heartbeat_s=30,
        cb_failure_threshold=1,
        clock=FakeClock(),
    )
    assert metric("tls_connection_errors_total", reason="protocol") > errors
    assert pool.breaker.state is BreakerState.OPEN
    assert pool.open_connections == 0


async def test_an_answer_contradicting_the_one_that_settled_its_message_goes_to_the_pipeline(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """M1's ACK, the same ACK again and a NACK, in one read; then, in a later read, M2's ACK and
    another NACK for M1. The repeat is a duplicate and dropped. Each NACK says the opposite of
    the answer that settled M1, so it goes to the pipeline, which keeps it and opens an
    ACK_MISSING: dropped as a duplicate, as it was, the receiver's rejection was lost."""

    async def contradict(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = bytearray()
        await read_messages(reader, received, 1)
        writer.write(encode_frames([ack("M1", UETR), ack("M1", UETR), nack("M1", UETR)]))
        await read_messages(reader, received, 2)
        writer.write(encode_frames([ack("M2", UETR), nack("M1", UETR)]))
        await writer.drain()

    handed_over: list[tuple[str, str]] = []
    pool = await make_pool(
        await scripted_receiver(contradict),
        pool_size=1,
        heartbeat_s=0,
        on_unmatched=lambda answer, _payload: handed_over.append((answer.msg_id, answer.kind)),
    )
    duplicates = metric("tls_protocol_anomalies_total", kind="duplicate")
    contradictions = metric("tls_protocol_anomalies_total", kind="contradiction")

    assert (await pool.send("M1", MESSAGE, uetr=UETR)).kind == "ACK"
    assert (await pool.send("M2", MESSAGE, uetr=UETR)).kind == "ACK"

    await poll(lambda: len(handed_over) == 2, what="both NACKs handed over")
    assert handed_over == [("M1", "NACK"), ("M1", "NACK")]
    assert metric("tls_protocol_anomalies_total", kind="duplicate") == duplicates + 1
    assert metric("tls_protocol_anomalies_total", kind="contradiction") == contradictions + 2


async def test_a_sender_woken_by_answers_read_before_a_framing_error_waits_for_the_next_connection(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """One read brings M1's answer, then a header announcing more than the frame limit. The
    answer frees the room M2's sender waits for; the connection is given up in the same read,
    though its end comes a callback later. M2 must go out on the next connection: handed to
    the one given up, it was never written, ended `connection_lost` (an attempt spent on a
    message the receiver never saw) and took the in-flight gauge below where it was."""
    connections = 0

    async def break_the_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        received = bytearray()
        await read_messages(reader, received, 1)
        if connections == 1:
            writer.write(encode_frames([ack("M1", UETR)]) + (1 << 30).to_bytes(4, "big"))
        else:
            writer.write(encode_frames([ack("M2", UETR)]))
        await writer.drain()

    pool = await make_pool(
        await scripted_receiver(break_the_first), pool_size=1, max_inflight=1, heartbeat_s=0
    )
    inflight = metric("tls_messages_inflight")
    first = asyncio.ensure_future(pool.send("M1", MESSAGE, uetr=UETR))
    second = asyncio.ensure_future(pool.send("M2", MESSAGE, uetr=UETR))

    assert (await first).kind == "ACK"
    assert (await second).kind == "ACK"
    assert connections == 2
    assert metric("tls_messages_inflight") == inflight
