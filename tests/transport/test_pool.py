"""The connection pool against a real in-process receiver on loopback TLS.

Pipelining, faults (drops, delays, garbage), the breaker, heartbeats, draining and back-pressure.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paywire.receiver import Faults, Rules
from paywire.transport import BreakerState, ConnectionPool, PoolState, Unanswered
from paywire.wire import Answer
from tests.fixtures.metrics import metric
from tests.fixtures.ports import free_port
from tests.fixtures.tls import StartReceiver, TLSFiles, gateway_settings, pacs008
from tests.fixtures.waiting import poll
from tests.transport.support import HEARTBEAT, FakeClock, Script, read_to_the_end


async def outcome(future: asyncio.Future[Answer]) -> Answer | str:
    try:
        return await future
    except Unanswered as exc:
        return exc.reason


async def test_ten_thousand_messages_all_matched_out_of_order(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(
        faults=Faults(shuffle=True), rules=Rules(nack_amount_over=Decimal("1000")), seed=7
    )
    pool = await make_pool(receiver.port, pool_size=4, max_inflight=128)
    assert pool.open_connections == 4
    order: list[str] = []
    futures: dict[str, asyncio.Future[Answer]] = {}
    for i in range(10_000):
        msg_id = f"BULK{i:06d}"
        amount = "5000.00" if i % 100 == 0 else "10.00"
        future = await pool.submit(msg_id, pacs008(msg_id, amount=amount))
        future.add_done_callback(lambda _, m=msg_id: order.append(m))
        futures[msg_id] = future
    answers = {m: await f for m, f in futures.items()}
    assert all(a.msg_id == m for m, a in answers.items())
    assert sum(a.kind == "NACK" for a in answers.values()) == 100
    assert all(a.reason_code == "AM04" for a in answers.values() if a.kind == "NACK")
    assert order != list(futures), "the receiver shuffled; answers must match out of order"
    stats = pool.stats()
    assert stats["totals"]["acks"] == 9_900
    assert stats["totals"]["nacks"] == 100
    assert stats["totals"]["inflight"] == 0
    assert all(c["sent"] > 0 for c in stats["connections"]), "least-loaded spreads the work"
    assert receiver.stats.received == 10_000


async def test_dropped_connection_reports_every_unanswered_message_and_reconnects(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(drop_after=40))
    before = metric("tls_connection_errors_total", reason="lost")
    pool = await make_pool(receiver.port, pool_size=2, max_inflight=32, cb_failure_threshold=50)
    futures = [await pool.submit(f"DROP{i:04d}", pacs008(f"DROP{i:04d}")) for i in range(300)]
    results = [await outcome(f) for f in futures]
    lost = [i for i, r in enumerate(results) if r == "connection_lost"]
    answered = [r for r in results if isinstance(r, Answer)]
    assert lost, "some messages were in flight when the receiver hung up"
    assert len(lost) + len(answered) == 300, "every message is answered or reported"
    assert metric("tls_connection_errors_total", reason="lost") > before
    await poll(lambda: pool.open_connections == 2, what="both connections open again")
    assert sum(c["connects"] for c in pool.stats()["connections"]) > 2
    retry = await pool.send(f"DROP{lost[0]:04d}", pacs008(f"DROP{lost[0]:04d}"))
    assert retry.kind == "ACK"


async def answered(pool: ConnectionPool, msg_id: str) -> str:
    """The kind of `msg_id`'s answer, sent again while a closing connection loses it."""
    while True:
        try:
            return (await pool.send(msg_id, pacs008(msg_id))).kind
        except Unanswered as exc:
            if exc.reason != "connection_lost":
                raise


async def test_with_heartbeats_off_a_receiver_answering_then_hanging_up_is_redialled_at_once(
    start_receiver: StartReceiver, tls_files: TLSFiles
) -> None:
    """Each connection carried an answer before the receiver closed it (its idle timeout, a
    load balancer's): it proved the receiver works, and its end starts a new run of failures,
    redialled after the first backoff. With heartbeats off, the read that confirmed a
    connection was its first answer, which left it unproven: each end was one failure more in
    a row, and the backoff doubled every time, to a minute here by the twelfth (20 s or more
    spent waiting, against a few hundredths of a second)."""
    receiver = await start_receiver(faults=Faults(drop_after=1))
    settings = gateway_settings(tls_files, receiver.port, pool_size=1, heartbeat_s=0)
    pool = ConnectionPool(settings, backoff_base_s=0.01, backoff_max_s=60.0)
    await pool.start()
    try:

        async def twelve_answers() -> None:
            for n in range(12):
                assert await answered(pool, f"HANGUP{n:02d}") == "ACK"

        await asyncio.wait_for(twelve_answers(), 10)
    finally:
        await pool.close(deadline_s=0.5)


async def test_answer_later_than_the_timeout(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    orphans: list[tuple[Answer, bytes]] = []
    receiver = await start_receiver(faults=Faults(ack_delay_ms=800))
    pool = await make_pool(
        receiver.port,
        pool_size=1,
        ack_timeout_s=0.1,
        heartbeat_s=0,
        on_unmatched=lambda a, raw: orphans.append((a, raw)),
    )
    with pytest.raises(Unanswered) as caught:
        await pool.send("SLOW1", pacs008("SLOW1"))
    assert caught.value.reason == "timeout"
    assert caught.value.msg_id == "SLOW1"
    # The late answer names a message no longer in flight: the pipeline gets it to reconcile.
    await poll(lambda: bool(orphans), what="an orphan")
    assert orphans[0][0].msg_id == "SLOW1"
    assert b"SLOW1" in orphans[0][1]
    assert pool.stats()["totals"]["inflight"] == 0


async def test_garbage_frame_replaces_the_connection(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(garbage_every=5))
    pool = await make_pool(receiver.port, pool_size=1, cb_failure_threshold=50)
    before = metric("tls_connection_errors_total", reason="protocol")
    results = [await outcome(await pool.submit(f"G{i}", pacs008(f"G{i}"))) for i in range(12)]
    assert all(isinstance(r, Answer) or r == "connection_lost" for r in results)
    assert metric("tls_connection_errors_total", reason="protocol") >= before + 1
    await poll(lambda: pool.open_connections == 1, what="the connection open again")
    slot = pool.stats()["connections"][0]
    assert slot["connects"] >= 2
    assert slot["errors"] >= 1
    assert "framing error" in (slot["last_error"] or "")


async def test_garbage_payload_is_an_anomaly_not_fatal(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(garbage_every=1, garbage_kind="payload"))
    pool = await make_pool(receiver.port, pool_size=1)
    before = metric("tls_protocol_anomalies_total", kind="unparseable")
    for i in range(5):
        assert (await pool.send(f"GP{i}", pacs008(f"GP{i}"))).kind == "ACK"
    await poll(
        lambda: metric("tls_protocol_anomalies_total", kind="unparseable") >= before + 5,
        what="five unparseable answers counted",
    )
    assert pool.stats()["connections"][0]["connects"] == 1


async def test_duplicates_are_ignored_and_orphans_handed_over(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    orphans: list[str] = []
    receiver = await start_receiver(faults=Faults(duplicate_rate=1.0, orphan_rate=1.0))
    pool = await make_pool(
        receiver.port, pool_size=1, on_unmatched=lambda a, raw: orphans.append(a.msg_id)
    )
    duplicates = metric("tls_protocol_anomalies_total", kind="duplicate")
    answers = [await pool.send(f"D{i}", pacs008(f"D{i}")) for i in range(10)]
    assert [a.msg_id for a in answers] == [f"D{i}" for i in range(10)]
    await poll(lambda: len(orphans) == 10, what="ten orphans")
    assert all(m.startswith("ORPHAN") for m in orphans)
    await poll(
        lambda: metric("tls_protocol_anomalies_total", kind="duplicate") == duplicates + 10,
        what="ten duplicates counted",
    )
    assert pool.stats()["totals"]["acks"] == 10


async def test_mismatching_uetr_is_an_anomaly_does_not_settle_and_goes_to_the_pipeline(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    """The answer does not settle the message, which times out; it is handed over all the same,
    for the settler to keep and raise (PROCESSING_ERROR), as when it comes after the timeout."""
    receiver = await start_receiver()
    handed_over: list[tuple[str, str | None]] = []
    pool = await make_pool(
        receiver.port,
        pool_size=1,
        ack_timeout_s=0.2,
        on_unmatched=lambda a, raw: handed_over.append((a.msg_id, a.uetr)),
    )
    before = metric("tls_protocol_anomalies_total", kind="uetr_mismatch")
    payload = pacs008("U1", uetr="0f8fad5b-d9cb-469f-a165-70867728950e")
    with pytest.raises(Unanswered, match="timeout"):
        await pool.send("U1", payload, uetr="7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert metric("tls_protocol_anomalies_total", kind="uetr_mismatch") == before + 1
    assert handed_over == [("U1", "0f8fad5b-d9cb-469f-a165-70867728950e")]
    answer = await pool.send(
        "U2",
        pacs008("U2", uetr="0f8fad5b-d9cb-469f-a165-70867728950e"),
        uetr="0f8fad5b-d9cb-469f-a165-70867728950e",
    )
    assert answer.uetr == "0f8fad5b-d9cb-469f-a165-70867728950e"


async def test_breaker_opens_half_opens_and_closes(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    port = free_port()  # nothing listens on it yet
    clock = FakeClock()
    refused = metric("tls_connection_errors_total", reason="connect")
    pool = await make_pool(port, pool_size=2, cb_failure_threshold=2, cb_reset_s=30, clock=clock)
    assert pool.breaker.state is BreakerState.OPEN
    assert metric("tls_circuit_breaker_state") == 2
    assert metric("tls_connection_errors_total", reason="connect") >= refused + 2
    with pytest.raises(Unanswered) as caught:
        await pool.send("CB1", pacs008("CB1"))
    assert caught.value.reason == "breaker_open"

    # The probe fails while the receiver is still down: OPEN again, for another period.
    clock.now += 30
    assert pool.breaker.state is BreakerState.HALF_OPEN
    assert metric("tls_circuit_breaker_state") == 1
    await poll(lambda: pool.breaker.state is BreakerState.OPEN, what="the breaker OPEN")

    await start_receiver(port=port)
    clock.now += 30
    assert pool.breaker.state is BreakerState.HALF_OPEN
    await poll(lambda: pool.breaker.state is BreakerState.CLOSED, what="the breaker CLOSED")
    assert metric("tls_circuit_breaker_state") == 0
    assert (await pool.send("CB2", pacs008("CB2"))).kind == "ACK"
    await poll(lambda: pool.open_connections == 2, what="both connections open")


async def test_a_connection_dialled_before_the_breaker_opened_does_not_close_it(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """Two slots dial at once; the receiver hangs up on one, which opens a breaker of threshold
    1, and only then confirms the other. When that one opens, the breaker stays OPEN: only its
    HALF_OPEN probe may close it. A handshake begun before the receiver failed says nothing of
    it now, and closing on it had also cleared, with shared state, every gateway's verdict."""
    connections = 0

    async def slow_or_refused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections > 1:
            writer.close()
            return
        assert await reader.readexactly(4) == HEARTBEAT
        # Confirmed only once the other's failure has opened the breaker.
        await poll(lambda: pool.breaker.state is BreakerState.OPEN, what="the breaker OPEN")
        writer.write(HEARTBEAT)
        await read_to_the_end(reader)

    pool = await make_pool(
        await scripted_receiver(slow_or_refused),
        start=False,
        pool_size=2,
        cb_failure_threshold=1,
        heartbeat_s=30,
        clock=FakeClock(),
    )
    await pool.start()
    assert pool.open_connections == 1
    assert pool.breaker.state is BreakerState.OPEN


async def test_a_connection_that_opens_while_the_pool_closes_is_closed_with_it(
    scripted_receiver: Callable[[Script], Any], tls_files: TLSFiles
) -> None:
    """One slot is open; the other's first attempt is refused and its second confirmed late.
    The pool is closed meanwhile and waits for the open connection's goodbye, which a receiver
    that stopped reading withholds (here until the late one has ended, or the pool gives up on
    it); the late one opens during that wait, after the pool last looked at its connections. It
    must end with the pool, not stay open (and heartbeating) for the life of the process."""
    connections = 0
    deaf_one_released = asyncio.Event()
    late_one_dialling = asyncio.Event()
    late_one_closed = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        if number == 2:
            writer.close()
            return
        assert await reader.readexactly(4) == HEARTBEAT
        if number == 1:
            writer.write(HEARTBEAT)
            await writer.drain()
            writer.transport.pause_reading()  # deaf from here on: no goodbye comes back
            await deaf_one_released.wait()
            writer.transport.resume_reading()
            writer.close()
            return
        late_one_dialling.set()
        # Confirmed once the pool is closing: it has taken the connections it closes, and
        # waits for the deaf one's goodbye.
        await poll(lambda: pool.state is PoolState.CLOSING, what="the pool closing")
        writer.write(HEARTBEAT)
        try:
            await read_to_the_end(reader)
        finally:  # an end or a reset
            late_one_closed.set()
            deaf_one_released.set()

    port = await scripted_receiver(script)
    settings = gateway_settings(tls_files, port, pool_size=2, heartbeat_s=30)
    pool = ConnectionPool(settings, backoff_base_s=0.01, backoff_max_s=0.05, close_timeout_s=10)
    await pool.start()
    try:
        await asyncio.wait_for(late_one_dialling.wait(), 30)
        await pool.close()
        await asyncio.wait_for(late_one_closed.wait(), 30)
        assert connections == 3
    finally:
        deaf_one_released.set()
        if pool.state is not PoolState.CLOSED:  # the test failed before closing it
            await pool.close(deadline_s=0)


class StraddlingClock(FakeClock):
    """A FakeClock that, after `straddle(at, reading)`, gives its `reading`-th next reading just
    short of `at`, and every reading after that one at `at`: two readings in a row on either
    side of a period's end, wherever the code under test happens to read twice."""

    def __init__(self) -> None:
        super().__init__()
        self._short_of: float | None = None
        self._readings_left = 0

    def straddle(self, at: float, reading: int) -> None:
        self._short_of, self._readings_left = at, reading

    def __call__(self) -> float:
        if self._short_of is None:
            return self.now
        self._readings_left -= 1
        if self._readings_left:
            return self.now
        self.now, self._short_of = self._short_of, None
        return self.now - 1e-6


@pytest.mark.parametrize("reading", [1, 2, 3, 4])
async def test_a_slot_asking_as_the_open_period_ends_takes_the_probe(
    reading: int, start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    """A lone slot that asks the breaker just as its OPEN period ends probes the receiver. It
    was told "not yet" by one reading of the clock and "no time left" by the next, and so
    waited for the breaker to change, on a breaker that only its own probe could change."""
    port = free_port()  # nothing listens on it yet
    clock = StraddlingClock()
    pool = await make_pool(port, pool_size=1, cb_failure_threshold=1, cb_reset_s=0.05, clock=clock)
    assert pool.breaker.state is BreakerState.OPEN  # and asks again every 0.05 s, meanwhile
    await start_receiver(port=port)
    clock.straddle(0.05, reading)
    await poll(lambda: pool.open_connections == 1, what="the probe's connection open")


async def test_manual_breaker_reset_dials_at_once(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    port = free_port()  # nothing listens on it yet
    pool = await make_pool(port, pool_size=1, cb_failure_threshold=1, clock=FakeClock())
    assert pool.breaker.state is BreakerState.OPEN
    await start_receiver(port=port)
    pool.reset_breaker()
    await poll(lambda: pool.open_connections == 1, what="the connection open")
    assert pool.stats()["breaker"]["state"] == "CLOSED"


async def test_heartbeats_flow_when_idle(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, pool_size=1, heartbeat_s=0.03)
    await poll(lambda: receiver.stats.heartbeats_received >= 5, what="five heartbeats received")
    assert pool.open_connections == 1
    assert pool.stats()["connections"][0]["connects"] == 1


async def test_receiver_heartbeats_are_answered_without_ping_pong(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    # Both sides probe when idle and the receiver echoes everything, as SPEC §4 says it does.
    receiver = await start_receiver(faults=Faults(heartbeat_s=0.03))
    pool = await make_pool(receiver.port, pool_size=1, heartbeat_s=0.03)
    stats = receiver.stats

    def probes() -> int:
        """The receiver's own heartbeats: it counts each echo as one received and one sent."""
        return stats.heartbeats_sent - stats.heartbeats_received

    await poll(lambda: stats.heartbeats_received >= 8, what="eight heartbeats received")
    received, probed = stats.heartbeats_received, probes()
    # A ping-pong never lets the receiver fall idle for a probe of its own again.
    await poll(
        probes, what="twenty more probes of the receiver's", until=lambda n: n >= probed + 20
    )
    answers, rounds = stats.heartbeats_received - received, probes() - probed
    # Each of its probes gets one heartbeat of ours: the answer, or a probe of ours it crossed
    # (whose echo is then answered: two). The answer to the last may still be on its way, and
    # one to a probe before the count may have come in it.
    assert rounds - 1 <= answers <= 2 * rounds + 1, (answers, rounds)
    assert pool.open_connections == 1


async def test_withheld_answers_time_out_on_a_live_connection(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(no_answer_rate=1.0))
    pool = await make_pool(receiver.port, pool_size=1, heartbeat_s=0.05, ack_timeout_s=0.2)
    assert pool.open_connections == 1, "heartbeats are echoed even when answers are withheld"
    with pytest.raises(Unanswered, match="timeout"):
        await pool.send("Q1", pacs008("Q1"))
    assert receiver.stats.withheld == 1
    assert pool.stats()["connections"][0]["connects"] == 1


async def test_close_drains_in_flight_messages(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=100))
    pool = await make_pool(receiver.port, pool_size=2)
    futures = [await pool.submit(f"C{i}", pacs008(f"C{i}")) for i in range(50)]
    await asyncio.gather(pool.close(deadline_s=5), pool.close(deadline_s=5))
    assert pool.state is PoolState.CLOSED
    assert all(f.result().kind == "ACK" for f in futures), "drained before closing"
    with pytest.raises(Unanswered) as caught:
        await pool.submit("C99", pacs008("C99"))
    assert caught.value.reason == "closed"
    assert pool.open_connections == 0


async def test_close_deadline_ends_what_is_still_unanswered(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=2000))
    pool = await make_pool(receiver.port, pool_size=1)
    futures = [await pool.submit(f"E{i}", pacs008(f"E{i}")) for i in range(5)]
    await pool.close(deadline_s=0.05)
    assert [await outcome(f) for f in futures] == ["closed"] * 5


async def test_back_pressure_holds_the_third_sender(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=500))
    pool = await make_pool(receiver.port, pool_size=1, max_inflight=2)
    first = await pool.submit("B1", pacs008("B1"))
    second = await pool.submit("B2", pacs008("B2"))
    third = asyncio.ensure_future(pool.send("B3", pacs008("B3")))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    assert pool.stats()["totals"]["inflight"] == 2
    assert not third.done()
    assert (await first).kind == "ACK"
    assert (await second).kind == "ACK"
    assert (await third).msg_id == "B3"
    assert receiver.stats.received == 3


async def test_waiting_senders_fail_when_the_pool_closes(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=1000))
    pool = await make_pool(receiver.port, pool_size=1, max_inflight=1)
    await pool.submit("W1", pacs008("W1"))
    waiting = asyncio.ensure_future(pool.send("W2", pacs008("W2")))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    await pool.close(deadline_s=0.01)
    with pytest.raises(Unanswered) as caught:
        await waiting
    assert (caught.value.reason, caught.value.msg_id) == ("closed", "W2")


async def test_stats_shape(start_receiver: StartReceiver, make_pool: Callable[..., Any]) -> None:
    receiver = await start_receiver(rules=Rules(nack_rate=1.0))
    pool = await make_pool(receiver.port, pool_size=2)
    assert (await pool.send("S1", pacs008("S1"))).kind == "NACK"
    stats = pool.stats()
    assert stats["state"] == "OPEN"
    assert stats["breaker"] == {"state": "CLOSED", "failures": 0}
    assert stats["totals"] == {
        "open": 2,
        "inflight": 0,
        "sent": 1,
        "acks": 0,
        "nacks": 1,
        "errors": 0,
    }
    conn = stats["connections"][0]
    assert set(conn) == {
        "id",
        "state",
        "inflight",
        "sent",
        "acks",
        "nacks",
        "errors",
        "connects",
        "connected_since",
        "last_error",
    }
    assert conn["state"] == "OPEN"
    assert conn["connected_since"].endswith("+00:00")


async def test_pool_life_cycle_errors(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, start=False, pool_size=1)
    assert pool.state is PoolState.NEW
    with pytest.raises(Unanswered, match="closed"):
        await pool.send("L1", pacs008("L1"))
    await pool.start()
    with pytest.raises(RuntimeError):
        await pool.start()
    with pytest.raises(ValueError, match="already in flight"):
        await asyncio.gather(
            pool.send("L2", pacs008("L2")), pool.send("L2", pacs008("L2")), return_exceptions=False
        )


async def test_waiting_senders_fail_fast_when_the_breaker_opens(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=5000))
    pool = await make_pool(
        receiver.port, pool_size=1, max_inflight=1, cb_failure_threshold=2, clock=FakeClock()
    )
    in_flight = await pool.submit("K1", pacs008("K1"))
    waiting = asyncio.ensure_future(pool.send("K2", pacs008("K2")))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    await receiver.stop()  # the connection is lost, and so is every reconnect
    assert await outcome(in_flight) == "connection_lost"
    with pytest.raises(Unanswered) as caught:
        await waiting
    assert (caught.value.reason, caught.value.msg_id) == ("breaker_open", "K2")
    assert pool.breaker.state is BreakerState.OPEN


async def test_a_receiver_that_hangs_up_on_every_message_trips_the_breaker(
    scripted_receiver: Callable[[Script], Any], make_pool: Callable[..., Any]
) -> None:
    """Each connection opens (its opening heartbeat is answered) and dies at the first message,
    as a receiver that crashes on it would. None proves the receiver works, so their ends are
    failures in a row and the breaker opens at the threshold; counting each new connection as a
    success kept it closed while the pool redialled and lost every message, for ever."""

    async def hang_up_at_a_message(reader: asyncio.StreamReader, writer: Any) -> None:
        while int.from_bytes(await reader.readexactly(4), "big") == 0:
            writer.write(bytes(4))  # a heartbeat: answer it
        writer.close()

    pool = await make_pool(await scripted_receiver(hang_up_at_a_message), pool_size=1)
    threshold = 5
    reasons = []
    for n in range(threshold):
        assert pool.breaker.state is BreakerState.CLOSED
        with pytest.raises(Unanswered) as lost:
            await pool.send(f"M{n}", b"<pacs.008/>")
        reasons.append(lost.value.reason)

    assert reasons == ["connection_lost"] * threshold
    # Once the slot has seen it end.
    await poll(lambda: pool.breaker.state is BreakerState.OPEN, what="the breaker OPEN")
    with pytest.raises(Unanswered, match="breaker_open"):
        await pool.send("M-after", b"<pacs.008/>")


async def test_room_is_what_the_open_connections_take_now(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    """The transmitter claims no more than this: a message claimed beyond it would wait in the
    pool for room while its lease runs."""
    receiver = await start_receiver(faults=Faults(no_answer_rate=1.0))
    pool = await make_pool(receiver.port, pool_size=2, max_inflight=3, heartbeat_s=0)
    await poll(lambda: pool.open_connections == 2, what="both connections open")
    assert pool.room == 6
    waiting = [await pool.submit(f"R{n}", pacs008(f"R{n}")) for n in range(2)]
    assert pool.room == 4
    await pool.close(deadline_s=0)
    assert pool.room == 0
    for future in waiting:
        with pytest.raises(Unanswered):
            await future


async def test_each_dial_of_a_slot_is_named_apart_in_the_log(
    make_pool: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    def failed_dials() -> list[str]:
        return [m.group(1) for m in map(_FAILED_DIAL.match, caplog.messages) if m]

    with caplog.at_level(logging.WARNING, logger="paywire.transport"):
        await make_pool(free_port(), pool_size=1, cb_failure_threshold=50)
        await poll(lambda: len(failed_dials()) >= 3, what="three failed dials")
    assert failed_dials()[:3] == ["0.1", "0.2", "0.3"]


_FAILED_DIAL = re.compile(r"connection (\S+) failed: ")
