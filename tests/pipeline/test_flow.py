"""The pipeline end to end in one process: real PostgreSQL, real TLS, the reference receiver.

Each test ends by checking the ledger and the audit chain, not only the statuses.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from paywire.domain.accounts import clearing_account
from paywire.errors import PermissionDenied
from paywire.pipeline import runner
from paywire.pipeline.runner import PipelineState
from paywire.receiver import Faults, Rules
from paywire.services import audit, pipeline
from paywire.store.delivery import Transmission
from tests.fixtures.gateway import Gateway, StartGateway
from tests.fixtures.world import ACME, POOR, World


async def assert_books_balance(gateway: Gateway, ids: list[UUID]) -> None:
    """One posting per posted payment, a reversal exactly for the failed ones, a verified
    audit chain."""
    rows = await gateway.db.fetch(
        """
        SELECT p.id, p.status,
               count(*) FILTER (WHERE g.kind = 'POSTING') AS postings,
               count(*) FILTER (WHERE g.kind = 'REVERSAL') AS reversals
        FROM payments p LEFT JOIN postings g ON g.payment_id = p.id
        WHERE p.id = ANY($1::uuid[]) GROUP BY p.id, p.status
        """,
        ids,
    )
    assert len(rows) == len(set(ids)), "every payment is there to check"
    for row in rows:
        posted = row["status"] in ("POSTED", "TRANSMITTED", "COMPLETED", "FAILED")
        assert row["postings"] == (1 if posted else 0), dict(row)
        assert row["reversals"] == (1 if row["status"] == "FAILED" else 0), dict(row)
    assert (await audit.verify(gateway.db)).ok


async def test_every_payment_settles_as_the_receivers_rules_dictate(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(rules=Rules(nack_amount_over=Decimal("1000")))
    amounts = [f"{500 + 25 * i}.00" for i in range(40)]  # 500.00 … 1475.00
    acme_before = await world.balance(ACME)
    ids = await world.approved(amounts)
    gateway.pipeline.wake()
    final = await gateway.wait_for(ids)
    expected = {
        pid: "FAILED" if Decimal(a) > 1000 else "COMPLETED"
        for pid, a in zip(ids, amounts, strict=True)
    }
    assert final == expected
    completed = sum(Decimal(a) for a in amounts if Decimal(a) <= 1000)
    assert await world.balance(ACME) == acme_before - completed
    assert await world.balance(clearing_account("EUR")) == completed
    reasons = await world.pool.fetch(
        "SELECT reason_code FROM payments WHERE status = 'FAILED' AND id = ANY($1::uuid[])", ids
    )
    assert {r["reason_code"] for r in reasons} == {"AM04"}
    attempts = await world.pool.fetch(
        "SELECT attempts FROM messages WHERE payment_id = ANY($1::uuid[])", ids
    )
    assert [r["attempts"] for r in attempts] == [1] * len(ids)
    await assert_books_balance(gateway, ids)


async def test_insufficient_funds_are_rejected_and_never_sent(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway()
    ids = await world.approved(["60.00", "60.00"], debtor={"name": "P", "account": POOR})
    gateway.pipeline.wake()
    final = await gateway.wait_for(ids, ("COMPLETED", "REJECTED"))
    assert sorted(final.values()) == ["COMPLETED", "REJECTED"]
    sent = await world.pool.fetchval(
        "SELECT count(*) FROM messages WHERE payment_id = ANY($1::uuid[])", ids
    )
    assert sent == 1
    assert gateway.receiver.stats.received == 1
    await assert_books_balance(gateway, ids)


async def test_silence_is_resent_with_the_same_bytes_then_opens_ack_missing(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(
        faults=Faults(no_answer_rate=1.0), ack_timeout_s=0.2, max_attempts=3
    )
    (pid,) = await world.approved(["10.00"])
    gateway.pipeline.wake()
    await gateway.wait_for([pid], ("TRANSMITTED",))
    exception = await gateway.row(
        "SELECT kind, msg_id FROM exceptions WHERE payment_id = $1 AND state = 'OPEN'",
        pid,
    )
    assert exception["kind"] == "ACK_MISSING"
    message = await world.pool.fetchrow("SELECT * FROM messages WHERE payment_id = $1", pid)
    assert message["attempts"] == 3
    assert message["next_attempt_at"] is None
    assert gateway.receiver.stats.received == 3
    assert gateway.receiver.stats.duplicates == 2
    assert (await gateway.statuses([pid]))[pid] == "TRANSMITTED"

    # Four eyes past approval, as on the exception the retry answers: not the approver.
    with pytest.raises(PermissionDenied, match=r"four eyes: .* may not retry it"):
        await gateway.pipeline.retry(pid, world.checker)
    await gateway.pipeline.retry(pid, world.operators["admin"], request_id="req-retry")
    await gateway.row("SELECT 1 FROM messages WHERE payment_id = $1 AND attempts = 4", pid)
    assert (await gateway.statuses([pid]))[pid] == "TRANSMITTED"
    retry = await gateway.row(
        "SELECT operator, before, after, request_id FROM audit_logs WHERE action = 'payment.retry'"
    )
    assert (retry["operator"], retry["request_id"]) == ("admin", "req-retry")
    assert (retry["before"], retry["after"]) == (
        {"status": "TRANSMITTED", "attempt_limit": 3},
        {"status": "TRANSMITTED", "attempt_limit": 4},
    )
    await assert_books_balance(gateway, [pid])


async def test_a_receiver_that_hangs_up_on_a_message_cannot_use_up_its_attempts_at_once(
    world: World, start_gateway: StartGateway
) -> None:
    """The receiver drops every connection at the message, unanswered. The first loss is resent
    at once; the next ones wait out the lease, as a timeout does, so the attempts span
    PAYWIRE_MAX_ATTEMPTS leases rather than the second it took before."""
    lease_s = 1.0
    gateway = await start_gateway(
        faults=Faults(drop_after=1, no_answer_rate=1.0), ack_timeout_s=lease_s, max_attempts=3
    )
    (pid,) = await world.approved(["10.00"])
    gateway.pipeline.wake()
    await gateway.row(
        "SELECT 1 FROM exceptions WHERE payment_id = $1 AND kind = 'ACK_MISSING'", pid
    )
    message = await gateway.row(
        "SELECT attempts, extract(epoch FROM last_sent_at - first_sent_at) AS spread"
        " FROM messages WHERE payment_id = $1",
        pid,
    )
    assert message["attempts"] == 3
    assert message["spread"] >= lease_s, "the third transmission waited out the second's lease"
    assert (await gateway.statuses([pid]))[pid] == "TRANSMITTED"


async def test_connections_dropped_mid_flight_lose_nothing(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(faults=Faults(drop_after=7), pool_size=2)
    ids = await world.approved(["1.00"] * 30)
    gateway.pipeline.wake()
    final = await gateway.wait_for(ids)
    assert set(final.values()) == {"COMPLETED"}
    assert gateway.receiver.stats.connections > 2
    await assert_books_balance(gateway, ids)


async def test_answers_arriving_after_the_timeout_still_settle_once(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(
        faults=Faults(ack_delay_ms=1000), ack_timeout_s=0.1, max_attempts=50
    )
    ids = await world.approved(["2.00"] * 5)
    gateway.pipeline.wake()
    final = await gateway.wait_for(ids)
    assert set(final.values()) == {"COMPLETED"}
    # The timeout did run out before the answers came: messages went out again, and the
    # receiver answered the copies too (a second answer for each such message).
    attempts = await world.pool.fetch(
        "SELECT attempts FROM messages WHERE payment_id = ANY($1::uuid[])", ids
    )
    assert any(row["attempts"] > 1 for row in attempts), attempts
    assert gateway.receiver.stats.duplicates > 0
    events = await world.pool.fetchval(
        "SELECT count(*) FROM payment_events WHERE status = 'COMPLETED'"
        " AND payment_id = ANY($1::uuid[])",
        ids,
    )
    assert events == len(ids)
    await assert_books_balance(gateway, ids)


async def test_answers_for_unknown_messages_are_kept_for_reconciliation(
    world: World, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(faults=Faults(orphan_rate=1.0))
    ids = await world.approved(["3.00"] * 3)
    gateway.pipeline.wake()
    await gateway.wait_for(ids)
    row = await gateway.row(
        "SELECT count(*) AS n FROM exceptions WHERE kind = 'ORPHAN_ACK' HAVING count(*) >= 3"
    )
    orphans = await world.pool.fetchval("SELECT count(*) FROM answers WHERE payment_id IS NULL")
    assert orphans >= row["n"]
    await assert_books_balance(gateway, ids)


async def test_messages_the_breaker_refused_keep_their_attempts(
    world: World,
    start_gateway: StartGateway,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The breaker opens between the recording of four transmissions and their sending: the
    pool refuses them before a byte is written, so they go out later without having used up
    an attempt. With one attempt allowed, an attempt spent on the refusal would leave them
    unsent with ACK_MISSING."""
    gateway = await start_gateway(max_attempts=1, ack_timeout_s=0.5)
    record = pipeline.transmit

    async def record_then_trip(*args: Any, **kwargs: Any) -> list[Transmission]:
        sends = await record(*args, **kwargs)
        if sends:
            monkeypatch.setattr(pipeline, "transmit", record)
            gateway.pool.breaker.trip(for_s=0.2)
        return sends

    monkeypatch.setattr(pipeline, "transmit", record_then_trip)
    ids = await world.approved(["4.00"] * 4)
    gateway.pipeline.wake()
    final = await gateway.wait_for(ids, timeout_s=10)
    assert set(final.values()) == {"COMPLETED"}
    # The refusal happened: without it, the test would pass on an ordinary run.
    assert any(
        m.endswith("transmissions held back or lost; due again now") for m in caplog.messages
    )
    messages = await world.pool.fetch(
        "SELECT attempts FROM messages WHERE payment_id = ANY($1::uuid[])", ids
    )
    assert [m["attempts"] for m in messages] == [1] * 4
    assert (gateway.receiver.stats.received, gateway.receiver.stats.duplicates) == (4, 0)
    assert await world.pool.fetchval("SELECT count(*) FROM exceptions") == 0
    await assert_books_balance(gateway, ids)


async def test_the_drain_ends_by_its_deadline_while_a_step_waits_on_a_lock(
    world: World, start_gateway: StartGateway
) -> None:
    """Another transaction holds the debtor's account, so the screening step, which posts, waits
    for it. The drain's deadline bounds the whole stop: the waiting step is cancelled and its
    transaction rolls back (the payment is still APPROVED, nothing half done), rather than the
    stop outlasting the deployment's grace period. Long exports holding every pool connection
    leave a step waiting the same way."""
    gateway = await start_gateway()
    (pid,) = await world.approved(["10.00"])
    async with world.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE", ACME)
        gateway.pipeline.wake()
        await gateway.row(
            "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        await asyncio.wait_for(gateway.pipeline.drain(0.5), timeout=10)
    assert gateway.pipeline.state is PipelineState.STOPPED
    assert (await gateway.statuses([pid]))[pid] == "APPROVED"


async def test_a_drain_says_what_it_waits_for_while_it_waits(
    world: World,
    start_gateway: StartGateway,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "DRAIN_REPORT_S", 0.05)
    gateway = await start_gateway(faults=Faults(no_answer_rate=1.0), ack_timeout_s=30)
    (pid,) = await world.approved(["10.00"])
    gateway.pipeline.wake()
    await gateway.wait_for([pid], ("TRANSMITTED",))
    await gateway.row("SELECT 1 FROM messages WHERE payment_id = $1 AND attempts = 1", pid)

    with caplog.at_level(logging.INFO, logger="paywire.pipeline.runner"):
        await gateway.pipeline.drain(0.5)

    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("draining:")]
    assert said, "a quiet drain looks like a hang"
    assert said[0].startswith("draining: 1 messages awaiting their answers, ")
