"""`ConnectionPool.submit_many` against a real in-process receiver on loopback TLS.

Every message passed in is told exactly one outcome, whatever happens to it: answered, timed out,
lost with its connection, never sent because the pool closed or the breaker opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paywire.config import MIN_FRAME_BYTES
from paywire.receiver import Faults, Rules
from paywire.transport import BreakerState, Unanswered
from paywire.wire import Answer
from tests.fixtures.metrics import metric
from tests.fixtures.tls import StartReceiver, pacs008
from tests.fixtures.waiting import poll
from tests.transport.support import FakeClock


class Outcomes:
    """An `on_outcome` handler that remembers everything it is told."""

    def __init__(self) -> None:
        self.told: dict[str, list[Answer | Unanswered]] = {}

    def __call__(self, msg_id: str, outcome: Answer | Unanswered) -> None:
        self.told.setdefault(msg_id, []).append(outcome)

    def __len__(self) -> int:
        return len(self.told)

    def once(self) -> dict[str, Answer | Unanswered]:
        """Each message's outcome; fails if any was told twice."""
        twice = [m for m, outcomes in self.told.items() if len(outcomes) != 1]
        assert not twice, f"told more than once: {twice[:5]}"
        return {m: outcomes[0] for m, outcomes in self.told.items()}

    def reasons(self) -> dict[str, str]:
        """`ACK`, `NACK` or the `Unanswered` reason, per message."""
        return {
            m: o.reason if isinstance(o, Unanswered) else o.kind for m, o in self.once().items()
        }


def messages(prefix: str, n: int, **fields: Any) -> list[tuple[str, bytes, str | None]]:
    return [(f"{prefix}{i:05d}", pacs008(f"{prefix}{i:05d}", **fields), None) for i in range(n)]


async def test_ten_thousand_messages_all_matched_out_of_order(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(
        faults=Faults(shuffle=True), rules=Rules(nack_amount_over=Decimal("1000")), seed=11
    )
    pool = await make_pool(receiver.port, pool_size=4, max_inflight=128)
    batch = [
        (m, pacs008(m, amount="5000.00" if i % 100 == 0 else "10.00"), None)
        for i, m in enumerate(f"MANY{i:05d}" for i in range(10_000))
    ]
    told = Outcomes()
    order: list[str] = []

    def on_outcome(msg_id: str, outcome: Answer | Unanswered) -> None:
        order.append(msg_id)
        told(msg_id, outcome)

    # Uneven batches: one larger than the whole window waits for room as answers come in.
    for start, end in ((0, 3), (3, 700), (700, 10_000)):
        await pool.submit_many(batch[start:end], on_outcome)
    await poll(lambda: len(told) == 10_000, 30, what="10,000 outcomes told")
    outcomes = told.once()
    assert all(isinstance(o, Answer) and o.msg_id == m for m, o in outcomes.items())
    assert sum(o.kind == "NACK" for o in outcomes.values() if isinstance(o, Answer)) == 100
    assert order != [m for m, _, _ in batch], "the receiver shuffled; answers match out of order"
    stats = pool.stats()
    assert (stats["totals"]["acks"], stats["totals"]["nacks"]) == (9_900, 100)
    assert stats["totals"]["inflight"] == 0
    assert all(c["sent"] > 0 for c in stats["connections"]), "batches are spread"
    assert receiver.stats.received == 10_000


async def test_connection_drop_tells_every_message_once(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(drop_after=40))
    before = metric("tls_connection_errors_total", reason="lost")
    pool = await make_pool(receiver.port, pool_size=2, max_inflight=32, cb_failure_threshold=50)
    told = Outcomes()
    await pool.submit_many(messages("DROP", 300), told)
    await poll(lambda: len(told) == 300, what="300 outcomes told")
    reasons = told.reasons()
    assert set(reasons.values()) <= {"ACK", "connection_lost"}
    assert "connection_lost" in reasons.values(), "some were in flight when the receiver hung up"
    assert metric("tls_connection_errors_total", reason="lost") > before
    await poll(lambda: pool.open_connections == 2, what="both connections open again")
    lost = [m for m, r in reasons.items() if r == "connection_lost"]
    again = Outcomes()
    await pool.submit_many([(m, pacs008(m), None) for m in lost[:5]], again)
    await poll(lambda: len(again) == 5, what="five resends told")
    # On fresh connections, well short of drop_after: every resend is answered.
    assert set(again.reasons().values()) == {"ACK"}


async def test_answers_later_than_the_timeout(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=800))
    pool = await make_pool(receiver.port, pool_size=1, ack_timeout_s=0.1, heartbeat_s=0)
    told = Outcomes()
    await pool.submit_many(messages("SLOW", 20), told)
    await poll(lambda: len(told) == 20, what="20 outcomes told")
    outcomes = told.once()
    assert {o.reason for o in outcomes.values() if isinstance(o, Unanswered)} == {"timeout"}
    assert all(isinstance(o, Unanswered) and o.msg_id == m for m, o in outcomes.items())
    assert pool.stats()["totals"]["inflight"] == 0


async def test_mismatching_uetr_is_not_settled(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, pool_size=1, ack_timeout_s=0.2)
    sent = "0f8fad5b-d9cb-469f-a165-70867728950e"
    told = Outcomes()
    await pool.submit_many(
        [
            ("UM1", pacs008("UM1", uetr=sent), "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            ("UM2", pacs008("UM2", uetr=sent), sent),
        ],
        told,
    )
    await poll(lambda: len(told) == 2, what="both outcomes told")
    assert told.reasons() == {"UM1": "timeout", "UM2": "ACK"}


async def test_close_drains_then_ends_the_rest(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=100))
    pool = await make_pool(receiver.port, pool_size=2)
    told = Outcomes()
    await pool.submit_many(messages("C", 50), told)
    await pool.close(deadline_s=5)
    assert set(told.reasons().values()) == {"ACK"}, "drained before closing"
    late = Outcomes()
    await pool.submit_many(messages("LATE", 3), late)
    assert late.reasons() == {m: "closed" for m, _, _ in messages("LATE", 3)}


async def test_close_deadline_ends_what_is_still_unanswered(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=2000))
    pool = await make_pool(receiver.port, pool_size=1)
    told = Outcomes()
    await pool.submit_many(messages("E", 5), told)
    await pool.close(deadline_s=0.05)
    assert set(told.reasons().values()) == {"closed"}
    assert len(told) == 5


async def test_a_waiting_batch_ends_closed_when_the_pool_closes(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=1000))
    pool = await make_pool(receiver.port, pool_size=1, max_inflight=4)
    told = Outcomes()
    waiting = asyncio.ensure_future(pool.submit_many(messages("W", 10), told))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    assert pool.stats()["totals"]["inflight"] == 4
    await pool.close(deadline_s=0.01)
    await waiting
    reasons = told.reasons()
    assert len(reasons) == 10
    assert set(reasons.values()) == {"closed"}


async def test_a_cancelled_batch_tells_what_it_did_not_send(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=1000))
    pool = await make_pool(receiver.port, pool_size=1, max_inflight=4)
    told = Outcomes()
    waiting = asyncio.ensure_future(pool.submit_many(messages("X", 10), told))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert told.reasons() == {f"X{i:05d}": "closed" for i in range(4, 10)}
    await poll(lambda: len(told) == 10, what="ten outcomes told")
    assert [told.reasons()[f"X{i:05d}"] for i in range(4)] == ["ACK"] * 4
    assert pool.stats()["waiting_senders"] == 0


async def test_what_waits_past_its_deadline_is_told_no_room(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    """The caller's claim on the messages ends at `queue_by`: what has no room by then must not
    leave later, and is told so, certainly unwritten."""
    receiver = await start_receiver(faults=Faults(ack_delay_ms=1000))
    pool = await make_pool(receiver.port, pool_size=1, max_inflight=4)
    told = Outcomes()
    await pool.submit_many(
        messages("D", 10), told, queue_by=asyncio.get_running_loop().time() + 0.2
    )
    assert told.reasons() == {f"D{i:05d}": "no_room" for i in range(4, 10)}
    assert pool.stats()["waiting_senders"] == 0
    await poll(lambda: len(told) == 10, what="ten outcomes told")
    assert [told.reasons()[f"D{i:05d}"] for i in range(4)] == ["ACK"] * 4
    assert receiver.stats.received == 4


async def test_batches_and_single_senders_share_the_room(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=20))
    pool = await make_pool(receiver.port, pool_size=2, max_inflight=8)
    told = Outcomes()
    batches = [pool.submit_many(messages(f"B{b}-", 40), told) for b in range(3)]
    singles = [pool.send(f"S{i}", pacs008(f"S{i}")) for i in range(40)]
    results = await asyncio.gather(*batches, *singles)
    assert all(a.kind == "ACK" for a in results[3:] if a is not None)
    await poll(lambda: len(told) == 120, what="120 outcomes told")
    assert set(told.reasons().values()) == {"ACK"}
    assert receiver.stats.received == 160


async def test_breaker_open_tells_every_message(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver()
    port = receiver.port
    await receiver.stop()
    pool = await make_pool(port, pool_size=1, cb_failure_threshold=1, clock=FakeClock())
    assert pool.breaker.state is BreakerState.OPEN
    told = Outcomes()
    await pool.submit_many(messages("CB", 3), told)
    assert told.reasons() == {m: "breaker_open" for m, _, _ in messages("CB", 3)}


async def test_a_waiting_batch_fails_fast_when_the_breaker_opens(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=5000))
    pool = await make_pool(
        receiver.port, pool_size=1, max_inflight=2, cb_failure_threshold=2, clock=FakeClock()
    )
    told = Outcomes()
    waiting = asyncio.ensure_future(pool.submit_many(messages("K", 5), told))
    await poll(lambda: pool.stats()["waiting_senders"] == 1, what="a sender waiting")
    await receiver.stop()  # the connection is lost, and so is every reconnect
    await waiting
    await poll(lambda: len(told) == 5, what="five outcomes told")
    reasons = told.reasons()
    assert [reasons[f"K{i:05d}"] for i in range(2)] == ["connection_lost"] * 2
    assert [reasons[f"K{i:05d}"] for i in range(2, 5)] == ["breaker_open"] * 3


async def test_bad_batches_are_refused_whole(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    receiver = await start_receiver(faults=Faults(ack_delay_ms=200))
    pool = await make_pool(receiver.port, pool_size=1, max_frame_bytes=MIN_FRAME_BYTES)
    told = Outcomes()
    with pytest.raises(ValueError, match="repeat"):
        await pool.submit_many(messages("R", 2) + messages("R", 1), told)
    with pytest.raises(ValueError, match="exceed"):
        await pool.submit_many([("BIG", b"x" * (MIN_FRAME_BYTES + 1), None)], told)
    await pool.submit_many(messages("F", 2), told)
    with pytest.raises(ValueError, match="in flight"):
        await pool.submit_many(messages("G", 1) + messages("F", 1), told)
    assert pool.stats()["totals"]["inflight"] == 2, "nothing of a refused batch was queued"
    await poll(lambda: len(told) == 2, what="both outcomes told")
    assert set(told.once()) == {"F00000", "F00001"}


async def test_a_failing_handler_does_not_lose_the_others(
    start_receiver: StartReceiver, make_pool: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, pool_size=1)
    told = Outcomes()

    def on_outcome(msg_id: str, outcome: Answer | Unanswered) -> None:
        told(msg_id, outcome)
        if msg_id.endswith("3"):
            raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR, logger="paywire.transport"):
        await pool.submit_many(messages("H", 10), on_outcome)
        await poll(lambda: len(told) == 10, what="ten outcomes told")
    assert set(told.reasons().values()) == {"ACK"}
    assert "outcome handler failed" in caplog.text


async def test_empty_batch(start_receiver: StartReceiver, make_pool: Callable[..., Any]) -> None:
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, pool_size=1)
    told = Outcomes()
    await pool.submit_many([], told)
    assert not told.told


async def test_answers_read_together_with_a_bad_header_still_settle(
    start_receiver: StartReceiver, make_pool: Callable[..., Any]
) -> None:
    """The receiver writes five answers and, behind them, a broken header, in one write: the
    answers are real and settle their messages; only then does the connection close."""
    receiver = await start_receiver(faults=Faults(garbage_every=5))
    pool = await make_pool(receiver.port, pool_size=1, cb_failure_threshold=50)
    told = Outcomes()
    await pool.submit_many(messages("BAD", 5), told)
    await poll(lambda: len(told) == 5, what="five outcomes told")
    assert set(told.reasons().values()) == {"ACK"}
    await poll(lambda: pool.stats()["connections"][0]["connects"] == 2, what="a second connect")
    assert "framing error" in (pool.stats()["connections"][0]["last_error"] or "")
