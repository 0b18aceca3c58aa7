"""Retention against a real database: old audit rows purged with the chain still verifying,
old finished payments archived with their whole family, reports unchanged, old logs removed,
each run audited; every other DELETE refused."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.exception_kinds import PROCESSING_ERROR
from paywire.domain.statuses import Status
from paywire.observability.logging import log_file_name
from paywire.services import audit as audit_service
from paywire.services import payments, pipeline, reconciliation, retention
from paywire.store import audit
from paywire.store.exception_queue import NewException
from paywire.store.tx import Pool
from tests.fixtures.breaks import tamper
from tests.fixtures.migrations import refused_rollback
from tests.fixtures.world import World, answer, payment_body

FAMILY = (
    ("payments", "id", ("created_at", "updated_at", "approved_at")),
    ("payment_events", "payment_id", ("at",)),
    ("idempotency_keys", "payment_id", ("created_at",)),
    ("postings", "payment_id", ("created_at",)),
    ("messages", "payment_id", ("created_at", "first_sent_at", "last_sent_at", "answered_at")),
    ("answers", "payment_id", ("received_at",)),
    ("exceptions", "payment_id", ("opened_at", "resolved_at")),
)


async def make_old(owner: Pool, ids: list[UUID], years: int = 8) -> None:
    """Move every timestamp of these payments' families `years` into the past (as the schema's
    owner: behind the triggers' back)."""
    for table, key, columns in FAMILY:
        shifted = ", ".join(f"{c} = {c} - make_interval(years => $2)" for c in columns)
        sql = f"UPDATE {table} SET {shifted} WHERE {key} = ANY($1::uuid[])"  # noqa: S608
        await tamper(owner, sql, ids, years)
    await tamper(
        owner,
        "UPDATE ledger_entries e SET created_at = e.created_at - make_interval(years => $2)"
        " FROM postings g WHERE g.id = e.posting_id AND g.payment_id = ANY($1::uuid[])",
        ids,
        years,
    )


async def report_of(pool: Pool, day: Any) -> dict[str, Any]:
    async with reconciliation.daily(pool, day, answer_window=timedelta(0)) as report:
        body: dict[str, Any] = json.loads(b"".join([c async for c in report.json()]))
    body.pop("as_of")
    return body


async def days_of(pool: Pool, ids: list[UUID]) -> list[date]:
    """The days (UTC) these payments are stored on, in order: one, unless they were made across
    midnight, and not the day of a clock read before or after they were made."""
    made = await pool.fetch("SELECT created_at FROM payments WHERE id = ANY($1::uuid[])", ids)
    return sorted({r["created_at"].astimezone(UTC).date() for r in made})


def added(reports: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The totals of these days' reports added up."""
    totals = [report["totals"] for report in reports]
    return {key: sum(t[key] for t in totals) for key in ("payments", "matched", "unmatched")}


async def counts(pool: Pool, table: str) -> tuple[int, int]:
    live = await pool.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
    archived = await pool.fetchval(f"SELECT count(*) FROM {table}_archive")  # noqa: S608
    return live, archived


async def test_a_run_purges_archives_prunes_and_is_audited(world: World, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with world.pool.acquire() as conn, conn.transaction():
        entry = AuditEntry("system", "test.old", "test", "1")
        await audit.append(conn, [entry, entry, entry], now - timedelta(days=365 * 11))

    completed = await world.drive(await world.create(amount="10.00"), Status.COMPLETED)
    failed = await world.drive(await world.create(amount="20.00"), Status.TRANSMITTED)
    await pipeline.settle(
        world.pool, [answer(failed.msg_id, "NACK", reason_code="AC04")], world.ledger
    )
    unanswered = await world.drive(await world.create(amount="30.00"), Status.TRANSMITTED)
    questioned = await world.drive(await world.create(amount="40.00"), Status.COMPLETED)
    await pipeline.open_exceptions(
        world.pool, [NewException(PROCESSING_ERROR, questioned.id, None, "under review")]
    )
    recent = await world.drive(await world.create(amount="50.00"), Status.COMPLETED)
    old = [completed.id, failed.id, unanswered.id, questioned.id]
    await make_old(world.owner, old)
    old_days = await days_of(world.pool, old)
    before = {day: await report_of(world.pool, day) for day in old_days}
    assert added(before.values()) == {"payments": 4, "matched": 3, "unmatched": 1}  # unanswered

    logs = tmp_path / "logs"
    logs.mkdir()
    for day in (now.date() - timedelta(days=31), now.date() - timedelta(days=30), now.date()):
        (logs / log_file_name(day)).write_text("{}\n")

    run = await retention.run(world.pool, retention_years=10, log_dir=logs, now=now)
    assert (run.audit_rows_purged, run.payments_archived, run.log_files_removed) == (3, 2, 1)
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        log_file_name(d) for d in (now.date() - timedelta(days=30), now.date())
    )
    archived = await world.pool.fetch("SELECT id FROM payments_archive")
    assert {r["id"] for r in archived} == {completed.id, failed.id}
    assert await counts(world.pool, "payments") == (3, 2)
    assert await counts(world.pool, "postings") == (3, 3)  # the reversal went too
    assert (await counts(world.pool, "ledger_entries"))[1] == 6
    assert (await counts(world.pool, "answers"))[1] == 2
    live_events = await world.pool.fetchval(
        "SELECT count(*) FROM payment_events WHERE payment_id = ANY($1::uuid[])",
        [completed.id, failed.id],
    )
    assert live_events == 0

    # The old day's report reads the archive too: the same before and after.
    assert {day: await report_of(world.pool, day) for day in old_days} == before
    (recent_day,) = await days_of(world.pool, [recent.id])
    assert (await report_of(world.pool, recent_day))["totals"]["payments"] == 1
    assert recent.id not in {r["id"] for r in archived}

    verified = await audit_service.verify(world.pool)
    assert verified.ok, verified
    async with world.pool.acquire() as conn:
        (row,) = await audit.page(conn, limit=1, action="retention.run")
    assert row["operator"] == "system"
    assert row["after"]["payments_archived"] == 2
    assert row["after"]["audit_rows_purged"] == 3

    again = await retention.run(world.pool, retention_years=10, log_dir=logs, now=now)
    assert (again.audit_rows_purged, again.payments_archived, again.log_files_removed) == (0, 0, 0)
    assert (await audit_service.verify(world.pool)).ok


async def test_any_other_delete_is_refused(world: World) -> None:
    created = await payments.create_payment(
        world.pool, payment_body(), world.maker, idempotency_key="k"
    )
    payment = await world.drive(created.payment, Status.COMPLETED)
    await pipeline.open_exceptions(
        world.pool, [NewException(PROCESSING_ERROR, payment.id, None, "a row of each table")]
    )
    await make_old(world.owner, [payment.id])
    # As the schema's owner: the gateway's role may not delete these at all (test_grants.py).
    async with world.owner.acquire() as conn:
        for table in (
            "payments", "payment_events", "idempotency_keys", "postings", "ledger_entries",
            "messages", "answers", "exceptions",
        ):  # fmt: skip
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
                await conn.execute(f"DELETE FROM {table}")  # noqa: S608
        with pytest.raises(asyncpg.InvalidParameterValueError, match="seven years"):
            await conn.execute("SELECT archive_payments(now() - interval '6 years', 10)")


async def test_the_marker_set_by_hand_deletes_nothing_recent(world: World) -> None:
    payment = await world.drive(await world.create(), Status.COMPLETED)
    async with world.owner.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL paywire.archive = 'on'")
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute("DELETE FROM payment_events WHERE payment_id = $1", payment.id)


async def test_archived_rows_are_kept(world: World) -> None:
    payment = await world.drive(await world.create(), Status.COMPLETED)
    await make_old(world.owner, [payment.id])
    assert await retention.archive_expired(world.pool) == 1
    async with world.owner.acquire() as conn:
        for sql in (
            "UPDATE payments_archive SET status = 'FAILED'",
            "DELETE FROM ledger_entries_archive",
            "TRUNCATE payment_events_archive",
        ):
            with pytest.raises(asyncpg.IntegrityConstraintViolationError):
                await conn.execute(sql)


async def test_an_idempotency_key_used_again_after_archiving_is_archived_again(
    world: World,
) -> None:
    """Archiving frees a key (the operator may use an invoice number again); the archive held a
    copy of the live table's primary key, so archiving the second payment failed, and every run
    after it, since runs take the oldest payments first."""
    maker = world.operators["maker"]
    keyed = []
    for amount, years in (("10.00", 9), ("11.00", 8)):
        created = await payments.create_payment(
            world.pool, payment_body(amount=amount), maker, idempotency_key="inv-42"
        )
        keyed.append(await world.drive(created.payment, Status.COMPLETED))
        await make_old(world.owner, [keyed[-1].id], years=years)
        assert await retention.archive_expired(world.pool) == 1
    assert await counts(world.pool, "idempotency_keys") == (0, 2)
    async with world.owner.acquire() as conn:
        refused = await refused_rollback(conn, 17)
    assert refused.message == (
        "rolling back 0017_archived_keys_reused is refused: the archive holds an idempotency key"
        " reused after archiving; this rollback cannot keep both; restore a backup taken before"
        " 0017"
    )


async def test_a_gateway_clock_ahead_of_the_database_s_still_archives(world: World) -> None:
    """The run's cutoff is seven years before the gateway's clock; a clock a moment ahead of the
    server's asked the database for a younger cutoff than it allows, refused on every run."""
    done = await world.drive(await world.create(amount="10.00"), Status.COMPLETED)
    await make_old(world.owner, [done.id], years=8)
    ahead = datetime.now(UTC) + timedelta(minutes=1)
    assert await retention.archive_expired(world.pool, ahead) == 1


async def test_sessions_and_login_throttles_over_for_thirty_days_are_removed(
    world: World, tmp_path: Path
) -> None:
    """Every token issued and every name ever tried left a row for good; those over for more
    than thirty days go, those still live or recent stay."""
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=1)
    async with world.pool.acquire() as conn:
        for n, (created, expires, revoked) in enumerate(
            (
                (old - timedelta(hours=1), old, None),  # expired long ago
                (old - timedelta(hours=1), now + timedelta(hours=1), old),  # revoked long ago
                (recent - timedelta(hours=1), recent, None),  # expired yesterday
                (now, now + timedelta(hours=1), None),  # live
            )
        ):
            await conn.execute(
                "INSERT INTO sessions (token_hash, operator_id, created_at, expires_at,"
                " revoked_at) VALUES ($1, $2, $3, $4, $5)",
                bytes([n]) * 32,
                world.maker.id,
                created,
                expires,
                revoked,
            )
        await conn.executemany(
            "INSERT INTO login_throttle (username, failures, locked_until) VALUES ($1, $2, $3)",
            [
                ("tried-long-ago", [old], None),
                ("locked-long-ago", [old], old),
                ("tried-lately", [old, recent], None),
                ("locked-still", [old], now + timedelta(days=1)),
            ],
        )
    run = await retention.run(world.pool, retention_years=10, log_dir=tmp_path, now=now)
    assert (run.sessions_removed, run.login_throttles_removed) == (2, 2)
    kept = await world.pool.fetch("SELECT token_hash FROM sessions ORDER BY token_hash")
    assert [bytes(row["token_hash"])[0] for row in kept] == [2, 3]
    names = await world.pool.fetch("SELECT username FROM login_throttle ORDER BY username")
    assert [row["username"] for row in names] == ["locked-still", "tried-lately"]
