"""The invariant checker itself: it passes a clean run and fails each kind of broken one.

A checker that cannot fail proves nothing. After one real run, each test breaks one invariant
(inside a transaction that is rolled back, or in a copy of the receiver's log) and expects the
checker to say so.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from paywire.store.tx import Conn
from tests.chaos.run import timeout_for, wait_finished
from tests.fixtures.bulk import NACK_OVER, approve_mixed
from tests.fixtures.invariants import check_invariants
from tests.fixtures.tls import TLSFiles
from tests.fixtures.world import World
from tests.pipeline.processes import gateway_env, start_gateway, start_receiver


@dataclass
class Run:
    world: World
    ids: list[UUID]
    log: Path
    completed: dict[str, Any]  # one COMPLETED payment: id, msg_id


@pytest.fixture
async def run(world: World, gateway_database: str, tls_files: TLSFiles, tmp_path: Path) -> Run:
    ids = await approve_mixed(world, 30)
    log = tmp_path / "receiver.jsonl"
    receiver, port = await start_receiver(tls_files, log, "--nack-amount-over", str(NACK_OVER))
    try:
        gateway, _ = await start_gateway(gateway_env(gateway_database, tls_files, port, tmp_path))
        try:
            await wait_finished(world.pool, ids, timeout_for(len(ids)))
            gateway.signal(signal.SIGTERM)
            assert await gateway.wait() == 0
        finally:
            await gateway.stop()
    finally:
        await receiver.stop()
    row = await world.pool.fetchrow(
        "SELECT id, msg_id FROM payments WHERE status = 'COMPLETED' LIMIT 1"
    )
    assert row is not None
    return Run(world, ids, log, dict(row))


BREAKS: dict[str, str] = {
    "settled twice, once by a NACK": "INSERT INTO answers (msg_id, payment_id, kind, status,"
    " received_at, payload) SELECT msg_id, id, 'NACK', 'RJCT', now(), '' FROM payments"
    " WHERE id = $1",
    "completed twice in the history": "INSERT INTO payment_events (payment_id, status, at, by)"
    " VALUES ($1, 'COMPLETED', now(), 'system')",
    "a processing error": "INSERT INTO exceptions (kind, payment_id, detail)"
    " VALUES ('PROCESSING_ERROR', $1, 'broken on purpose')",
    "the debtor charged twice": "INSERT INTO ledger_entries (posting_id, account_id, amount,"
    " currency) SELECT g.id, e.account_id, e.amount, e.currency FROM postings g"
    " JOIN ledger_entries e ON e.posting_id = g.id WHERE g.payment_id = $1",
    "an answer nobody sent": "INSERT INTO answers (msg_id, payment_id, kind, status, received_at,"
    " payload) SELECT 'NOBODY' || $1::uuid::text, NULL, 'ACK', 'ACSP', now(), ''",
}


def _received_again(record: dict[str, Any], msg_id: str) -> list[dict[str, Any]]:
    if record["event"] == "received" and record["msg_id"] == msg_id:
        return [record, record]
    return [record]


def _decided_otherwise(record: dict[str, Any], msg_id: str) -> list[dict[str, Any]]:
    if record["event"] == "answer" and record["msg_id"] == msg_id:
        return [{**record, "kind": "NACK", "status": "RJCT"}]
    return [record]


def _never_answered(record: dict[str, Any], msg_id: str) -> list[dict[str, Any]]:
    return [] if record["event"] == "answer" and record["msg_id"] == msg_id else [record]


LOG_BREAKS: dict[str, Callable[[dict[str, Any], str], list[dict[str, Any]]]] = {
    "received fresh twice": _received_again,
    "the receiver NACKed what completed": _decided_otherwise,
    "completed without an answer": _never_answered,
}


async def test_the_checker_passes_a_clean_run_and_fails_every_broken_one(
    run: Run, tmp_path: Path
) -> None:
    summary = await check_invariants(run.world.pool, run.ids, run.log, nack_over=NACK_OVER)
    assert (summary.completed, summary.failed, summary.unanswered) == (27, 3, 0)
    for name, sql in BREAKS.items():
        async with _rolled_back(run) as conn:
            await conn.execute(sql, run.completed["id"])
            assert await _caught(check_invariants(conn, run.ids, run.log)), name
    msg_id = run.completed["msg_id"]
    records = [orjson.loads(line) for line in run.log.read_bytes().splitlines()]
    for name, rewrite in LOG_BREAKS.items():
        broken = tmp_path / "broken.jsonl"
        broken.write_bytes(
            b"\n".join(orjson.dumps(out) for record in records for out in rewrite(record, msg_id))
        )
        assert await _caught(check_invariants(run.world.pool, run.ids, broken)), name


@asynccontextmanager
async def _rolled_back(run: Run) -> AsyncIterator[Conn]:
    """One connection inside a transaction that is rolled back after the test's check."""
    async with run.world.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield conn
        finally:
            await transaction.rollback()


async def _caught(check: Awaitable[object]) -> bool:
    """Whether the checker failed (an AssertionError), as it must on a broken run."""
    try:
        await check
    except AssertionError:
        return True
    return False
