"""The schema migration runner: NNNN_name.up.sql / .down.sql files shipped inside the package.

One step per transaction, under an advisory lock, with the SHA-256 of each applied up file kept in
schema_migrations so that a file changed after it ran is refused rather than silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from paywire.errors import PaywireError
from paywire.store.tx import Conn, Record

# pg_advisory_lock key: any constant the application uses for nothing else ("paywire" in ASCII).
LOCK_KEY = 0x70617977697265
# The role the gateway runs as: migration 0018 makes it and grants it the rows it works on and
# nothing of the schema (docs/SECURITY.md, "Database roles").
GATEWAY_ROLE = "paywire_gateway"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(PaywireError):
    """The migration files or the database's migration history cannot be reconciled."""

    code = "MIGRATION"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    up_sql: str
    down_sql: str
    checksum: str

    @property
    def label(self) -> str:
        """How commands and refusals name it: `0007_delivery`."""
        return f"{self.version:04d}_{self.name}"

    @property
    def up_file(self) -> str:
        return f"{self.label}.up.sql"


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One line of `paywire migrate status`."""

    version: int
    name: str
    applied_at: datetime | None
    problem: str | None = None

    @property
    def state(self) -> str:
        if self.problem is not None:
            return self.problem
        return "applied" if self.applied_at is not None else "pending"


def default_directory() -> Traversable:
    """The migrations shipped in the package (the repository's `migrations/` points here)."""
    return resources.files("paywire.store") / "migrations"


def load(directory: Traversable | None = None) -> list[Migration]:
    """Every migration in `directory`, in order; versions must run 1, 2, 3 ... with both files."""
    directory = directory or default_directory()
    files: dict[tuple[int, str], dict[str, bytes]] = {}
    for entry in directory.iterdir():
        match = _FILE_RE.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"{entry.name}: not named NNNN_name.up.sql or .down.sql")
            continue
        files.setdefault((int(match[1]), match[2]), {})[match[3]] = entry.read_bytes()
    migrations = []
    for position, ((version, name), pair) in enumerate(sorted(files.items()), start=1):
        if version != position:
            raise MigrationError(f"migration {version:04d}_{name}: expected version {position:04d}")
        missing = {"up", "down"} - pair.keys()
        if missing:
            raise MigrationError(f"migration {version:04d}_{name} has no .{missing.pop()}.sql file")
        migrations.append(
            Migration(
                version=version,
                name=name,
                up_sql=pair["up"].decode(),
                down_sql=pair["down"].decode(),
                checksum=hashlib.sha256(pair["up"]).hexdigest(),
            )
        )
    return migrations


async def status(conn: Conn, migrations: Sequence[Migration]) -> list[MigrationState]:
    """Each known migration with when it was applied, plus any applied one the files lack."""
    applied = await _applied(conn)
    states = []
    for migration in migrations:
        row = applied.pop(migration.version, None)
        problem = None
        if row is not None and row["checksum"] != migration.checksum:
            problem = "changed"
        states.append(
            MigrationState(
                migration.version, migration.name, row["applied_at"] if row else None, problem
            )
        )
    for version, row in sorted(applied.items()):
        states.append(MigrationState(version, row["name"], row["applied_at"], "unknown"))
    return states


async def upgrade(
    conn: Conn,
    migrations: Sequence[Migration],
    progress: Callable[[Migration], None] | None = None,
    waiting: Callable[[], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration in order, calling `progress` after each; returns those
    applied. `waiting` hears that another runner holds the lock, before this one waits for it."""
    async with _locked(conn, waiting):
        applied = await _verified(conn, migrations)
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                try:
                    await conn.execute(migration.up_sql)
                except asyncpg.PostgresError as exc:
                    # What the server said, its HINT when the step gave one (0018 says which
                    # role to ask the administrator for), and that nothing of the step stays.
                    remedy = exc.hint or "mend the cause and run `paywire migrate` again"
                    raise MigrationError(
                        f"applying {migration.label} failed: {exc.message}; nothing of it was "
                        f"applied (the migrations before it were); {remedy}"
                    ) from None
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
            if progress is not None:
                progress(migration)
        return done


async def require_current(conn: Conn, migrations: Sequence[Migration] | None = None) -> None:
    """Refuse to work on a database whose schema is not exactly the latest."""
    if await conn.fetchval(
        "SELECT to_regclass('schema_migrations') IS NOT NULL"
        " AND NOT has_table_privilege('schema_migrations', 'SELECT')"
    ):
        # A gateway role on a schema migrated before 0018, or never granted its rights.
        raise MigrationError(
            f"the database role {await conn.fetchval('SELECT current_user')} may not read this "
            f"schema; run `paywire migrate` as the schema's owner, which grants {GATEWAY_ROLE} "
            "what the gateway needs, and log the gateway in as a member of it "
            '(docs/SECURITY.md, "Database roles")'
        )
    states = await status(conn, migrations if migrations is not None else load())
    behind = [s for s in states if s.state != "applied"]
    if behind:
        first = behind[0]
        raise MigrationError(
            f"the database schema is not current (migration {first.version:04d}_{first.name} is "
            f"{first.state}); {_REMEDY[first.state]}"
        )


async def owns_schema(conn: Conn) -> bool:
    """Whether the session's role is a superuser or may act as the owner of paywire's tables: a
    role that can alter them, turn their append-only triggers off, or rewrite their functions,
    which the gateway never needs."""
    return bool(
        await conn.fetchval(
            """
            SELECT r.rolsuper OR pg_has_role(current_user, c.relowner, 'MEMBER')
            FROM pg_roles r, pg_class c
            WHERE r.rolname = current_user AND c.oid = 'audit_logs'::regclass
            """
        )
    )


# What to do about a migration in each state but applied: `paywire migrate` helps only one.
_REMEDY = {
    "pending": "run `paywire migrate`",
    "unknown": "the database is newer than this paywire: run a paywire at least as new as it "
    "(after a rollback of the release, see docs/RUNBOOK.md, Change management)",
    "changed": "its file changed after it was applied: restore the file as it was",
}


async def rollback(
    conn: Conn, migrations: Sequence[Migration], waiting: Callable[[], None] | None = None
) -> Migration | None:
    """Undo the latest applied migration; returns it, or None when nothing is applied."""
    async with _locked(conn, waiting):
        applied = await _verified(conn, migrations)
        if not applied:
            return None
        migration = migrations[max(applied) - 1]
        async with conn.transaction():
            try:
                await conn.execute(migration.down_sql)
            except asyncpg.RaiseError as exc:
                # A down step that refuses on purpose says why, and what to do in its HINT when
                # there is more to do than the usual: records are never deleted by a rollback.
                remedy = exc.hint or (
                    f"a rollback never deletes records: to go back before {migration.label}, "
                    "restore a backup taken before it was applied (docs/RUNBOOK.md, Restore)"
                )
                raise MigrationError(
                    f"rolling back {migration.label} is refused: {exc.message}; {remedy}"
                ) from None
            await conn.execute(
                "DELETE FROM schema_migrations WHERE version = $1", migration.version
            )
        return migration


@asynccontextmanager
async def _locked(conn: Conn, waiting: Callable[[], None] | None) -> AsyncIterator[None]:
    """Holds the session advisory lock, so two runners never interleave their steps; says so
    through `waiting` when another holds it, or a wait would look like a hang."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        if waiting is not None:
            waiting()
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        try:
            await conn.execute(_CREATE_TABLE)
        except asyncpg.InsufficientPrivilegeError:
            # The likeliest cause: the gateway's URL (a container's environment) used to migrate.
            raise MigrationError(
                f"the database role {await conn.fetchval('SELECT current_user')} may not change "
                "the schema; run `paywire migrate` with the schema owner's DATABASE_URL, not the "
                'gateway\'s (docs/SECURITY.md, "Database roles")'
            ) from None
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def _applied(conn: Conn) -> dict[int, Record]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name, checksum, applied_at FROM schema_migrations")
    return {row["version"]: row for row in rows}


async def _verified(conn: Conn, migrations: Sequence[Migration]) -> dict[int, Record]:
    """The applied migrations, after refusing a changed file or a history the files lack."""
    applied = await _applied(conn)
    known = {m.version: m for m in migrations}
    for version, row in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{row['name']} applied, which this "
                "paywire does not have; run a paywire at least as new as the database"
            )
        if row["checksum"] != migration.checksum:
            raise MigrationError(
                f"{migration.up_file} changed after it was applied (recorded sha256 "
                f"{row['checksum']}, file {migration.checksum}); restore it and put the change "
                "in a new migration"
            )
    return applied
