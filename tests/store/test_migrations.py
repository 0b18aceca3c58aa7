"""The migration runner against a real server: up, down, up again; checksums; the lock."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.exception_kinds import ACK_MISSING
from paywire.domain.roles import Role
from paywire.domain.statuses import Status
from paywire.services import pipeline, seeding
from paywire.store import audit, migrator, operators
from paywire.store.database import init_connection
from paywire.store.exception_queue import NewException
from paywire.store.migrator import MigrationError
from tests.fixtures.migrations import refused_rollback
from tests.fixtures.postgres import PostgresServer, embedded_server, with_login
from tests.fixtures.world import CHEAP_HASHER, PASSWORD_HASH, World, answer

REPO = Path(__file__).resolve().parents[2]


async def _objects(conn: asyncpg.Connection) -> set[str]:
    """Every table, function and sequence the migrations could leave in the public schema."""
    rows = await conn.fetch(
        """
        SELECT 'table ' || tablename AS name FROM pg_tables WHERE schemaname = 'public'
        UNION ALL SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public'
        UNION ALL SELECT 'function ' || p.proname FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
        """
    )
    return {row["name"] for row in rows}


def _without(directory: Path, pattern: str) -> Path:
    for path in directory.glob(pattern):
        path.unlink()
    return directory


@pytest.fixture
async def conn(empty_database: str):
    connection = await asyncpg.connect(empty_database)
    yield connection
    await connection.close()


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrator.default_directory(), target)
    return target


def test_the_package_ships_numbered_pairs_and_the_repository_points_at_them() -> None:
    migrations = migrator.load()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert len(migrations) >= 6
    top_level = REPO / "migrations"
    assert top_level.resolve() == Path(str(migrator.default_directory())).resolve()
    assert all((top_level / m.up_file).is_file() for m in migrations)


async def test_up_down_up_from_an_empty_database(conn: asyncpg.Connection) -> None:
    migrations = migrator.load()
    applied = await migrator.upgrade(conn, migrations)
    assert [m.version for m in applied] == [m.version for m in migrations]
    schema = await _objects(conn)
    assert {"table payments", "table audit_logs", "function audit_purge"} <= schema

    rolled_back = []
    while (migration := await migrator.rollback(conn, migrations)) is not None:
        rolled_back.append(migration.version)
    assert rolled_back == [m.version for m in reversed(migrations)]
    assert await _objects(conn) == {"table schema_migrations"}

    assert len(await migrator.upgrade(conn, migrations)) == len(migrations)
    assert await _objects(conn) == schema
    assert await migrator.upgrade(conn, migrations) == []


async def test_rolling_back_past_records_is_refused(conn: asyncpg.Connection) -> None:
    """Rolling back stops at the first step that would drop what the database holds: here the
    audit log, before operators, accounts and the ledger would go with it."""
    migrations = migrator.load()
    await migrator.upgrade(conn, migrations)
    await init_connection(conn)
    olga = await operators.insert(conn, "olga", PASSWORD_HASH, [Role.MAKER])
    entry = AuditEntry("system", "operator.create", "operator", str(olga.id), after={"u": "olga"})
    async with conn.transaction():
        await audit.append(conn, [entry], datetime.now(UTC))
    # Down to 0007, which has nothing to lose here.
    assert (await refused_rollback(conn, 6)).message == (
        "rolling back 0006_audit is refused: the audit log holds rows: rolling back 0006 would"
        " drop them; a rollback never deletes records: to go back before 0006_audit, restore a"
        " backup taken before it was applied (docs/RUNBOOK.md, Restore)"
    )
    assert await conn.fetchval("SELECT count(*) FROM audit_logs") == 1
    states = {s.version: s.state for s in await migrator.status(conn, migrations)}
    assert (states[6], states[7]) == ("applied", "pending")


async def test_rolling_back_the_schedule_of_unanswered_messages_says_to_settle_them(
    world: World,
) -> None:
    """0007 refuses while a message waits for its answer, saying how to settle it; settled, the
    step goes back."""
    migrations = migrator.load()
    sent = await world.drive(await world.create(), Status.TRANSMITTED)
    async with world.owner.acquire() as conn:
        while (await migrator.status(conn, migrations))[7].state == "applied":
            assert await migrator.rollback(conn, migrations) is not None
        with pytest.raises(MigrationError) as refused:
            await migrator.rollback(conn, migrations)
        assert refused.value.message.startswith(
            "rolling back 0007_delivery is refused: unanswered messages are scheduled"
        )
        assert "resolve each open ACK_MISSING exception with the action mark_settled" in str(
            refused.value
        )
        await migrator.upgrade(conn, migrations)
    await pipeline.settle(world.pool, [answer(sent, "ACK")], world.ledger)
    async with world.owner.acquire() as conn:
        while (await migrator.status(conn, migrations))[6].state == "applied":
            assert await migrator.rollback(conn, migrations) is not None
        with pytest.raises(MigrationError, match=r"^rolling back 0006_audit is refused: "):
            await migrator.rollback(conn, migrations)


async def test_status_lists_applied_and_pending(conn: asyncpg.Connection) -> None:
    migrations = migrator.load()
    assert {s.state for s in await migrator.status(conn, migrations)} == {"pending"}
    await migrator.upgrade(conn, migrations[:2])
    states = [s.state for s in await migrator.status(conn, migrations)]
    assert states == ["applied", "applied"] + ["pending"] * (len(migrations) - 2)
    recorded = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["checksum"]) for r in recorded] == [
        (m.version, m.checksum) for m in migrations[:2]
    ]


async def test_a_changed_applied_file_is_refused_by_name(
    conn: asyncpg.Connection, migrations_copy: Path
) -> None:
    await migrator.upgrade(conn, migrator.load(migrations_copy))
    changed = migrations_copy / "0002_accounts.up.sql"
    changed.write_text(changed.read_text() + "\n-- an afterthought\n")
    migrations = migrator.load(migrations_copy)

    with pytest.raises(MigrationError, match=r"0002_accounts\.up\.sql changed"):
        await migrator.upgrade(conn, migrations)
    with pytest.raises(MigrationError, match=r"0002_accounts\.up\.sql changed"):
        await migrator.rollback(conn, migrations)
    states = {s.version: s.state for s in await migrator.status(conn, migrations)}
    assert states[2] == "changed"
    assert states[1] == "applied"


async def test_a_database_newer_than_the_files_is_refused(
    conn: asyncpg.Connection, migrations_copy: Path
) -> None:
    await migrator.upgrade(conn, migrator.load())
    newest = migrator.load()[-1]
    older = migrator.load(_without(migrations_copy, f"{newest.version:04d}_*"))
    with pytest.raises(MigrationError, match=f"{newest.version:04d}_{newest.name} applied"):
        await migrator.upgrade(conn, older)
    assert [s.state for s in await migrator.status(conn, older)][-1] == "unknown"


@pytest.mark.parametrize(
    ("remove", "message"),
    [("0003_payments.up.sql", "no .up.sql"), ("0001_operators.*", "expected version 0001")],
)
def test_gaps_and_missing_halves_are_refused(
    migrations_copy: Path, remove: str, message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        migrator.load(_without(migrations_copy, remove))


async def test_concurrent_runners_apply_each_migration_once(empty_database: str) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrator.upgrade(c, migrator.load()) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sorted(len(r) for r in results) == [0, 0, len(migrator.load())]


async def test_a_step_the_server_refuses_is_named_with_its_hint_and_leaves_nothing(
    conn: asyncpg.Connection, migrations_copy: Path
) -> None:
    """A step that fails was a traceback and an `unexpected` error; now it is named, with the
    HINT the step or the server gave, and neither it nor its record stays."""
    broken = migrations_copy / "0002_accounts.up.sql"
    broken.write_text(
        broken.read_text()
        + "\nDO $$ BEGIN RAISE EXCEPTION 'no room' USING HINT = 'make room first'; END $$;\n"
    )
    with pytest.raises(MigrationError) as refused:
        await migrator.upgrade(conn, migrator.load(migrations_copy))
    assert refused.value.message == (
        "applying 0002_accounts failed: no room; nothing of it was applied (the migrations"
        " before it were); make room first"
    )
    states = [s.state for s in await migrator.status(conn, migrator.load(migrations_copy))]
    assert states[:3] == ["applied", "pending", "pending"]
    assert await conn.fetchval("SELECT to_regclass('accounts')") is None


def test_an_owner_that_may_not_make_roles_is_told_which_to_ask_for() -> None:
    """An installation from before 0018 whose owner holds no CREATEROLE (as deploy/postgres
    makes it): the step says what the administrator must run, and applies once they have. On a
    server of its own, where the role can be missing (every test database's grants hold it on
    the session's server)."""
    with embedded_server() as server:
        asyncio.run(_without_the_role_then_with_it(server))


async def _without_the_role_then_with_it(server: PostgresServer) -> None:
    admin = await asyncpg.connect(server.dsn("postgres"))
    try:
        await admin.execute(f"DROP ROLE {migrator.GATEWAY_ROLE}")  # made by the embedded start
        await admin.execute("CREATE ROLE owner_only LOGIN PASSWORD 'owner-pw' NOCREATEROLE")
        await admin.execute("CREATE DATABASE owned OWNER owner_only")
        owner = await asyncpg.connect(with_login(server.dsn("owned"), ("owner_only", "owner-pw")))
        try:
            migrations = migrator.load()
            with pytest.raises(MigrationError) as refused:
                await migrator.upgrade(owner, migrations)
            assert refused.value.message == (
                "applying 0018_gateway_role failed: the role paywire_gateway does not exist, and"
                " owner_only may not create roles; nothing of it was applied (the migrations"
                " before it were); have the database administrator run CREATE ROLE"
                " paywire_gateway NOLOGIN, then run paywire migrate again"
            )
            await admin.execute(f"CREATE ROLE {migrator.GATEWAY_ROLE} NOLOGIN")
            assert [m.label for m in await migrator.upgrade(owner, migrations)] == [
                m.label for m in migrations[17:]
            ]
            assert await owner.fetchval(
                "SELECT has_table_privilege($1, 'audit_logs', 'INSERT')"
                " AND NOT has_table_privilege($1, 'audit_logs', 'UPDATE')",
                migrator.GATEWAY_ROLE,
            )
        finally:
            await owner.close()
    finally:
        await admin.close()


async def test_rolling_back_0019_is_refused_once_the_gateway_resolved_an_exception(
    world: World,
) -> None:
    """The foreign key it would restore cannot hold `system`; records are never deleted."""
    payment = await world.drive(await world.create(), Status.TRANSMITTED)
    await pipeline.open_exceptions(
        world.pool, [NewException(ACK_MISSING, payment.id, payment.msg_id, "unanswered")]
    )
    await pipeline.settle(world.pool, [answer(payment, "ACK")], world.ledger)
    async with world.owner.acquire() as conn:
        refused = await refused_rollback(conn, 19)
    assert refused.message.startswith(
        "rolling back 0019_answered_after_all is refused: the gateway has resolved exceptions"
    )


async def test_rolling_back_0021_is_refused_while_an_operator_must_replace_a_password(
    world: World,
) -> None:
    """Dropped with its column, the flag came back false with the next upgrade, and the
    password an ADMIN chose worked with the operator's full rights."""
    async with world.owner.acquire() as conn:
        await conn.execute(
            "UPDATE operators SET password_change_required = true WHERE username = 'maker'"
        )
        refused = await refused_rollback(conn, 21)
        assert refused.message.startswith(
            "rolling back 0021_password_change_required is refused: operators still have to"
            " replace a password an ADMIN chose"
        )
        assert "passwd" in refused.message
        await conn.execute("UPDATE operators SET password_change_required = false")
        assert await migrator.rollback(conn, migrator.load()) is not None


async def test_rolling_back_0022_is_refused_while_a_seed_file_s_password_is_remembered(
    world: World,
) -> None:
    """Dropped with its column, the hash came back empty with the next upgrade, and the next
    run of the same seed file gave its password back to operators who had chosen their own."""
    seed = {
        "operators": [{"username": "olga", "password": "olga's long secret", "roles": ["MAKER"]}]
    }
    await seeding.seed_file(world.pool, seed, hasher=CHEAP_HASHER)
    async with world.owner.acquire() as conn:
        refused = await refused_rollback(conn, 22)
        assert refused.message.startswith(
            "rolling back 0022_seeded_password is refused: operators hold passwords a seed set"
        )
        assert "seeded_password_hash = NULL" in refused.message
        await conn.execute("UPDATE operators SET seeded_password_hash = NULL")
        assert await migrator.rollback(conn, migrator.load()) is not None
