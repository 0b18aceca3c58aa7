"""The gateway's database role (migration 0018): rows it works on, nothing of the schema.

`db_pool` logs in as a member of the role, as a deployment's gateway does; `owner_pool` is the
schema's owner. That the role holds enough is what every suite that runs the app on `db_pool`
shows; these tests show what it is refused, before any trigger runs.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from paywire.config import Settings
from paywire.errors import PaywireError
from paywire.store import migrator
from paywire.store.database import open_database
from paywire.store.tx import Pool
from tests.fixtures.postgres import with_login

# What an owner could do to get past the records' rules, and the gateway must not.
SCHEMA_CHANGES = [
    "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only",
    "ALTER TABLE payments DROP CONSTRAINT payments_four_eyes",
    "DROP TRIGGER audit_logs_append_only ON audit_logs",
    "CREATE OR REPLACE FUNCTION audit_logs_guard() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'",
    "TRUNCATE payments CASCADE",
    "DROP TABLE audit_logs",
    "CREATE TABLE shadow (n integer)",
    "SET session_replication_role = replica",
]

# Writes to records that are only ever added to, or only read: refused by privilege, so they
# never reach the triggers that would refuse them too.
RECORD_CHANGES = [
    "UPDATE audit_logs SET operator = 'mallory'",
    "DELETE FROM audit_logs",
    "DELETE FROM audit_chain",
    "UPDATE payment_events SET status = 'COMPLETED'",
    "DELETE FROM payment_events",
    "UPDATE ledger_entries SET amount = 0",
    "DELETE FROM ledger_entries",
    "UPDATE postings SET kind = 'REVERSAL'",
    "DELETE FROM postings",
    "DELETE FROM answers",
    "DELETE FROM payments",
    "DELETE FROM messages",
    "DELETE FROM exceptions",
    "DELETE FROM operators",
    "DELETE FROM accounts",
    "DELETE FROM idempotency_keys",
    "DELETE FROM payments_archive",
    "INSERT INTO payment_transitions VALUES ('COMPLETED', 'INITIATED')",
    "DELETE FROM schema_migrations",
    "UPDATE session_cache_key SET secret = secret",
]


@pytest.mark.parametrize("sql", SCHEMA_CHANGES)
async def test_the_gateway_cannot_change_the_schema(db_pool: Pool, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_pool.execute(sql)


@pytest.mark.parametrize("sql", RECORD_CHANGES)
async def test_the_gateway_may_not_rewrite_records(db_pool: Pool, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await db_pool.execute(sql)


async def test_the_gateway_logs_in_as_a_member_of_the_role_not_as_an_owner(
    db_pool: Pool, owner_pool: Pool
) -> None:
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_has_role($1, 'MEMBER')", migrator.GATEWAY_ROLE)
        assert not await migrator.owns_schema(conn)
    async with owner_pool.acquire() as conn:
        assert await migrator.owns_schema(conn)


async def test_a_gateway_role_without_the_grants_is_told_to_migrate(
    empty_database: str, gateway_login: tuple[str, str]
) -> None:
    """A schema migrated before 0018 (an upgrade in progress): the gateway's role may not read
    it, and hears what to run rather than a permission error."""
    owner = await asyncpg.connect(empty_database)
    try:
        await migrator.upgrade(owner, migrator.load()[:17])
    finally:
        await owner.close()
    gateway = await asyncpg.connect(with_login(empty_database, gateway_login))
    try:
        with pytest.raises(PaywireError) as refused:
            await migrator.require_current(gateway)
    finally:
        await gateway.close()
    assert refused.value.message == (
        f"the database role {gateway_login[0]} may not read this schema; run `paywire migrate` "
        "as the schema's owner, which grants paywire_gateway what the gateway needs, and log "
        'the gateway in as a member of it (docs/SECURITY.md, "Database roles")'
    )


async def test_migrating_with_the_gateway_s_login_says_whose_url_it_takes(
    gateway_database: str, gateway_login: tuple[str, str]
) -> None:
    """A container's environment holds the gateway's URL; `paywire migrate` run there was a
    traceback ending in "permission denied for schema public"."""
    conn, other = [await asyncpg.connect(gateway_database) for _ in range(2)]
    try:
        for step in (migrator.upgrade, migrator.rollback):
            with pytest.raises(PaywireError) as refused:
                await step(conn, migrator.load())
            assert refused.value.message == (
                f"the database role {gateway_login[0]} may not change the schema; run `paywire"
                " migrate` with the schema owner's DATABASE_URL, not the gateway's"
                ' (docs/SECURITY.md, "Database roles")'
            )
        # The refused runner let the migration lock go: another takes it at once.
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", migrator.LOCK_KEY)
    finally:
        await conn.close()
        await other.close()


async def test_on_the_embedded_server_the_gateway_takes_the_role(
    embedded_data_dir: Path,
) -> None:
    """Its superuser is the only login the embedded server has; the gateway's sessions take the
    role from their start, and its other pools too. A command's are the owner's."""
    settings = Settings(data_dir=embedded_data_dir, db_pool_min=1)
    gateway = await open_database(settings, gateway=True)
    try:
        assert await gateway.pool.fetchval("SELECT current_user") == migrator.GATEWAY_ROLE
        more = await gateway.unbounded_pool(1)
        assert await more.fetchval("SELECT current_user") == migrator.GATEWAY_ROLE
    finally:
        await gateway.close()
    command = await open_database(settings)
    try:
        assert await command.pool.fetchval("SELECT current_user") != migrator.GATEWAY_ROLE
    finally:
        await command.close()
