"""The audit chain: concurrent writers stay linear, verify finds each kind of tampering, the
database refuses changes outside the retention purge."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from paywire.domain.audit_chain import AuditEntry, chain_hash
from paywire.domain.payment import utc_iso
from paywire.domain.retention import years_before
from paywire.services import audit as audit_service
from paywire.store import audit
from paywire.store.tx import Pool
from tests.fixtures.waiting import lock_waiters, poll


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        operator="carol",
        action="payment.approve",
        entity="payment",
        entity_id=f"p-{n}",
        before={"status": "INITIATED", "amount": "10.00"},
        after={"status": "APPROVED", "nested": {"b": [1, 2], "a": "ü"}},
        request_id=f"req-{n}",
    )


async def write(pool: Pool, count: int, at: datetime | None = None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await audit.append(conn, [entry(n) for n in range(count)], at)


@pytest.fixture
async def tamper(owner_pool: Pool) -> AsyncIterator[asyncpg.Connection]:
    """A superuser session with the append-only trigger switched off, as an attacker would."""
    async with owner_pool.acquire() as conn:
        await conn.execute("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only")
        yield conn
        await conn.execute("ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only")


async def test_an_empty_log_verifies(db_pool: Pool) -> None:
    result = await audit_service.verify(db_pool)
    assert result.as_dict() == {"ok": True, "rows": 0, "first_bad_id": None}


async def test_concurrent_writers_keep_one_linear_chain(db_pool: Pool) -> None:
    await asyncio.gather(*(write(db_pool, 5) for _ in range(20)))
    async with db_pool.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM audit_logs ORDER BY id")]
        head = await conn.fetchrow("SELECT last_id, last_hash FROM audit_chain")
        last_hash = await conn.fetchval("SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1")
    assert ids == list(range(1, 101))
    assert (head["last_id"], head["last_hash"]) == (100, last_hash)
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": True,
        "rows": 100,
        "first_bad_id": None,
    }


async def test_audit_rows_are_written_only_inside_a_transaction(db_pool: Pool) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await audit.append(conn, [entry(1)])


async def test_an_update_behind_the_triggers_back_is_found(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    await write(db_pool, 10)
    await tamper.execute(
        "UPDATE audit_logs SET after = jsonb_set(after, '{status}', '\"REJECTED\"') WHERE id = 6"
    )
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 6,
        "first_bad_id": 6,
    }


@pytest.mark.parametrize(
    "value", [pytest.param(1e16, id="large"), pytest.param(-0.0, id="negative-zero")]
)
async def test_a_float_is_refused_when_written_and_named_when_found(
    db_pool: Pool, tamper: asyncpg.Connection, value: float
) -> None:
    """jsonb gives 1e16 back as 10000000000000000 and -0.0 as 0: a float hashed as written
    would fail verification for ever, tampered with or not."""
    await write(db_pool, 3)
    floating = AuditEntry("carol", "payment.approve", "payment", "p-9", after={"fee": [value]})
    with pytest.raises(ValueError, match="must not hold floats"):
        async with db_pool.acquire() as conn, conn.transaction():
            await audit.append(conn, [entry(3), floating])
    assert await db_pool.fetchval("SELECT count(*) FROM audit_logs") == 3
    assert (await audit_service.verify(db_pool)).ok
    await tamper.execute("UPDATE audit_logs SET after = '{\"fee\": 1.5}' WHERE id = 2")
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 2,
        "first_bad_id": 2,
    }


async def test_a_value_no_reader_can_decode_is_the_bad_row_named_and_exported_as_stored(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    """jsonb keeps a number of any size; 1e400 is past every float, and reading the row failed
    the whole walk with a decode error: verify named no row, and the day could not be exported,
    just when its file was the evidence wanted."""
    await write(db_pool, 5)
    await tamper.execute("UPDATE audit_logs SET after = '{\"amount\": 1e400}' WHERE id = 3")
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 3,
        "first_bad_id": 3,
    }
    day = (await db_pool.fetchval("SELECT timestamp FROM audit_logs WHERE id = 3")).date()
    rows = {row["id"]: row for row in await exported(db_pool, day)}
    assert len(rows) == 5
    assert rows["3"]["after"] == '{"amount": 1' + "0" * 400 + "}", "as jsonb stores it"
    reverify([rows["1"], rows["2"]])  # the rows before it still verify from the file alone


# What a writer behind the triggers can store that no reader took: JSON nested deeper than
# orjson writes (it reads 1,024 levels, writes 255), and timestamps past Python's datetime.
ODD_ROWS = {
    "deep-json": "UPDATE audit_logs SET after = (repeat('[', 300) || repeat(']', 300))::jsonb"
    " WHERE id = 3",
    "year-10000": "UPDATE audit_logs SET timestamp = '10000-01-01 00:00:00+00' WHERE id = 3",
    "minus-infinity": "UPDATE audit_logs SET timestamp = '-infinity' WHERE id = 3",
    "infinity": "UPDATE audit_logs SET timestamp = 'infinity' WHERE id = 3",
}


@pytest.mark.parametrize("change", ODD_ROWS.values(), ids=list(ODD_ROWS))
async def test_a_row_no_reader_can_take_is_named_listed_and_exported_as_stored(
    db_pool: Pool, tamper: asyncpg.Connection, change: str
) -> None:
    """Each raised out of the walk (an error 500 for the API, and `audit verify` exiting 2,
    "could not check", where the log had been altered): verify names it, the listing shows it
    and the day's export holds it."""
    at = datetime.now(UTC)
    await write(db_pool, 5, at)
    await tamper.execute(change)
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 3,
        "first_bad_id": 3,
    }
    async with db_pool.acquire() as conn:
        listed = await audit.page(conn, limit=10, as_stored=True)
    assert [row["id"] for row in listed] == [5, 4, 3, 2, 1]
    # A stamp moved off the day leaves the day's file; a value no reader takes is in it as stored.
    day = ["1", "2", "3", "4", "5"] if "SET after" in change else ["1", "2", "4", "5"]
    assert [row["id"] for row in await exported(db_pool, at.date())] == day


async def test_a_head_that_disagrees_with_an_empty_log_names_no_row(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    """No row past the anchor, and the head's hash not the anchor's: the head alone is wrong,
    and there is no row to name (verify named the anchor's next, which does not exist)."""
    await tamper.execute("UPDATE audit_chain SET last_hash = repeat('b', 64)")
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 0,
        "first_bad_id": None,
    }


async def test_an_edited_last_row_is_the_one_named(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    """Rewritten and hashed again (the hash holds no secret), the last row fits the one before
    it, and only the head disagrees: verify named the row after it, which does not exist."""
    await write(db_pool, 10)
    row = await tamper.fetchrow("SELECT timestamp, prev_hash FROM audit_logs WHERE id = 10")
    forged = dataclasses.replace(entry(9), operator="mallory")
    rehashed = chain_hash(row["prev_hash"], 10, utc_iso(row["timestamp"]), forged)
    await tamper.execute(
        "UPDATE audit_logs SET operator = 'mallory', hash = $1 WHERE id = 10", rehashed
    )
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 10,
        "first_bad_id": 10,
    }


async def test_verify_tells_its_progress_against_the_rows_the_head_names(db_pool: Pool) -> None:
    """`paywire audit verify` draws its bar from this: every `prefetch` rows, and at the end."""
    await write(db_pool, 5)
    heard: list[tuple[int, int]] = []
    async with db_pool.acquire() as conn:
        result = await audit.verify(conn, prefetch=2, progress=lambda *told: heard.append(told))
    assert result.ok
    assert heard == [(2, 5), (4, 5), (5, 5)]


async def test_a_recomputed_hash_still_breaks_the_next_link(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    await write(db_pool, 10)
    await tamper.execute(
        "UPDATE audit_logs SET operator = 'mallory', hash = repeat('a', 64) WHERE id = 4"
    )
    result = await audit_service.verify(db_pool)
    assert (result.ok, result.first_bad_id) == (False, 4)


async def test_a_deleted_row_is_found(db_pool: Pool, tamper: asyncpg.Connection) -> None:
    await write(db_pool, 10)
    await tamper.execute("DELETE FROM audit_logs WHERE id = 3")
    result = await audit_service.verify(db_pool)
    assert (result.ok, result.first_bad_id) == (False, 4)


async def test_a_row_slipped_in_past_the_head_is_the_one_named(db_pool: Pool) -> None:
    """A row appended with a correct hash but without moving the head (written around the
    writer) is found through the head, and named: verify named the row after it, which does
    not exist."""
    await write(db_pool, 3)
    async with db_pool.acquire() as conn:
        head = await conn.fetchrow("SELECT last_id, last_hash FROM audit_chain")
        stamp = datetime.now(UTC)
        slipped = entry(4)
        await conn.execute(
            "INSERT INTO audit_logs (id, timestamp, operator, action, entity, entity_id, before,"
            " after, request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " $10, $11)",
            head["last_id"] + 1,
            stamp,
            slipped.operator,
            slipped.action,
            slipped.entity,
            slipped.entity_id,
            slipped.before,
            slipped.after,
            slipped.request_id,
            head["last_hash"],
            chain_hash(head["last_hash"], head["last_id"] + 1, utc_iso(stamp), slipped),
        )
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 4,
        "first_bad_id": 4,
    }


async def test_a_deleted_last_row_is_found_through_the_head(
    db_pool: Pool, tamper: asyncpg.Connection
) -> None:
    await write(db_pool, 10)
    await tamper.execute("DELETE FROM audit_logs WHERE id = 10")
    assert (await audit_service.verify(db_pool)).as_dict() == {
        "ok": False,
        "rows": 9,
        "first_bad_id": 10,
    }


async def test_reordered_rows_are_found(db_pool: Pool, tamper: asyncpg.Connection) -> None:
    await write(db_pool, 10)
    # Swap rows 5 and 7 entirely, hashes included, so each row is internally consistent.
    await tamper.execute("UPDATE audit_logs SET id = 1005 WHERE id = 5")
    await tamper.execute("UPDATE audit_logs SET id = 5 WHERE id = 7")
    await tamper.execute("UPDATE audit_logs SET id = 7 WHERE id = 1005")
    result = await audit_service.verify(db_pool)
    assert (result.ok, result.first_bad_id) == (False, 5)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_logs SET operator = 'mallory'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
        "DELETE FROM audit_chain",
        "UPDATE audit_chain SET last_id = 0",
        "UPDATE audit_chain SET last_at = last_at - interval '1 second'",
    ],
)
async def test_the_database_refuses_changes(db_pool: Pool, owner_pool: Pool, sql: str) -> None:
    """Even the schema's owner, while the triggers are on (the gateway's role is refused before
    them, tests/store/test_grants.py)."""
    await write(db_pool, 3)
    async with owner_pool.acquire() as conn:
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await conn.execute(sql)
    assert (await audit_service.verify(db_pool)).ok


async def test_setting_the_purge_flag_by_hand_deletes_nothing_recent(
    db_pool: Pool, owner_pool: Pool
) -> None:
    await write(db_pool, 3)
    async with owner_pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL paywire.audit_purge = 'on'")
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute("DELETE FROM audit_logs")


async def test_the_retention_purge_removes_only_old_rows_and_keeps_the_chain(
    db_pool: Pool,
) -> None:
    now = datetime.now(UTC)
    await write(db_pool, 4, now - timedelta(days=365 * 11))
    await write(db_pool, 3, now - timedelta(days=365 * 8))
    await write(db_pool, 2, now)
    assert await audit_service.purge_expired(db_pool, 10, now) == 4
    assert await audit_service.purge_expired(db_pool, 10, now) == 0
    result = await audit_service.verify(db_pool)
    assert result.as_dict() == {"ok": True, "rows": 6, "first_bad_id": None}
    assert await audit_service.purge_expired(db_pool, 7, now) == 3
    assert (await audit_service.verify(db_pool)).as_dict()["rows"] == 4
    # Each purge is on the record, in the purge's own transaction.
    purges = await db_pool.fetch(
        "SELECT operator, after FROM audit_logs WHERE action = 'audit.purge' ORDER BY id"
    )
    assert [(p["operator"], p["after"]["rows_purged"]) for p in purges] == [
        ("system", 4),
        ("system", 3),
    ]
    # A gateway whose clock runs ahead of the database's asks for a moment past the floor.
    assert await audit_service.purge_expired(db_pool, 7, now + timedelta(minutes=1)) == 0
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.InvalidParameterValueError, match="seven years"):
            await conn.execute("SELECT audit_purge(now() - interval '6 years')")


async def test_a_purge_records_the_cutoff_it_applied_not_the_one_asked(db_pool: Pool) -> None:
    """A gateway clock two days ahead asks for a cutoff the database holds to its own
    seven-year floor; the record says what was deleted, which is what was applied."""
    now = datetime.now(UTC)
    await write(db_pool, 2, now - timedelta(days=365 * 8))
    ahead = now + timedelta(days=2)
    assert await audit_service.purge_expired(db_pool, 7, ahead) == 2
    recorded = await db_pool.fetchval(
        "SELECT after->>'older_than' FROM audit_logs WHERE action = 'audit.purge'"
    )
    assert datetime.fromisoformat(recorded) < years_before(ahead, 7) - timedelta(days=1)


async def exported(pool: Pool, day: date) -> list[dict[str, str]]:
    out = io.BytesIO()
    await audit_service.export_csv(pool, day, out)
    return list(csv.DictReader(io.StringIO(out.getvalue().decode())))


def reverify(rows: list[dict[str, str]]) -> None:
    """What a third party does with a day's file: the standard library and the file alone, the
    chain followed from the first row's prev_hash."""
    prev = rows[0]["prev_hash"]
    for row in rows:
        content = {
            "id": int(row["id"]),
            "timestamp": row["timestamp"],
            "operator": row["operator"],
            "action": row["action"],
            "entity": row["entity"],
            "entity_id": row["entity_id"],
            "before": json.loads(row["before"]) if row["before"] else None,
            "after": json.loads(row["after"]) if row["after"] else None,
            "request_id": row["request_id"] or None,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["prev_hash"] == prev
        assert hashlib.sha256(prev.encode() + canonical.encode()).hexdigest() == row["hash"]
        prev = row["hash"]


async def test_an_export_can_be_reverified_with_the_standard_library_alone(
    db_pool: Pool,
) -> None:
    # Stamped by the test: the day a later reading of the clock gives is the next one if the
    # suite runs past midnight (UTC) in between.
    at = datetime.now(UTC)
    await write(db_pool, 3, at)
    rows = await exported(db_pool, at.date())
    assert [row["prev_hash"] for row in rows][:1] == ["0" * 64]
    assert len(rows) == 3
    reverify(rows)
    assert await audit_service.export_csv(db_pool, datetime(2000, 1, 1).date(), io.BytesIO()) == 0


async def test_stamps_never_go_back_so_each_day_exports_whole(db_pool: Pool) -> None:
    """A writer that took its stamp before midnight gets the head after one that took it after
    (a login's stamp is taken before argon2): its row is stamped as late as the row before it."""
    midnight = datetime(2026, 11, 27, tzinfo=UTC)
    await write(db_pool, 1, midnight + timedelta(milliseconds=50))
    await write(db_pool, 2, midnight - timedelta(milliseconds=50))
    await write(db_pool, 1, midnight + timedelta(seconds=1))
    assert await exported(db_pool, date(2026, 11, 26)) == []
    rows = await exported(db_pool, date(2026, 11, 27))
    assert [int(row["id"]) for row in rows] == [1, 2, 3, 4]
    reverify(rows)
    assert (await audit_service.verify(db_pool)).ok


async def test_a_writer_that_waited_for_the_head_stamps_no_earlier_than_the_one_before(
    db_pool: Pool,
) -> None:
    """The writer before still holds the head when the next asks for it; the next, stamped
    earlier, waits, and must then see the row it waited for (it read the stamp floor in its
    snapshot from before the wait, missed that row, and wrote a row stamped earlier)."""
    midnight = datetime(2026, 11, 27, tzinfo=UTC)
    async with db_pool.acquire() as first, db_pool.acquire() as second:
        holding = first.transaction()
        await holding.start()
        await audit.append(first, [entry(1)], midnight + timedelta(milliseconds=50))
        waiting = asyncio.create_task(write(db_pool, 1, midnight - timedelta(milliseconds=50)))
        await poll(lambda: lock_waiters(second), what="the second append waiting for the lock")
        await holding.commit()
        await waiting
    await write(db_pool, 1, midnight + timedelta(seconds=1))
    rows = await exported(db_pool, date(2026, 11, 27))
    assert [int(row["id"]) for row in rows] == [1, 2, 3]
    reverify(rows)


async def test_the_database_keeps_the_stamp_floor_whatever_a_writer_sets(db_pool: Pool) -> None:
    """A gateway of the version before migration 0016, still running during a rolling upgrade,
    appends and moves last_id and last_hash without last_at; the next writer of this version
    must still find the stamp of the row it follows. Nobody may set it to NULL either."""
    midnight = datetime(2026, 11, 27, tzinfo=UTC)
    await write(db_pool, 1, midnight)
    async with db_pool.acquire() as conn, conn.transaction():
        # What that gateway does: a row after the head, then the head moved, last_at untouched.
        head = await conn.fetchrow("SELECT last_id, last_hash FROM audit_chain FOR UPDATE")
        stamp = midnight + timedelta(seconds=5)
        row_id, row_hash = head["last_id"] + 1, "ab" * 32  # the hash is not checked here
        await conn.execute(
            "INSERT INTO audit_logs (id, timestamp, operator, action, entity, entity_id,"
            " prev_hash, hash) VALUES ($1, $2, 'carol', 'payment.approve', 'payment', 'p-2',"
            " $3, $4)",
            row_id,
            stamp,
            head["last_hash"],
            row_hash,
        )
        await conn.execute("UPDATE audit_chain SET last_id = $1, last_hash = $2", row_id, row_hash)
    assert await db_pool.fetchval("SELECT last_at FROM audit_chain") == stamp
    await db_pool.execute("UPDATE audit_chain SET last_at = NULL")
    assert await db_pool.fetchval("SELECT last_at FROM audit_chain") == stamp
