"""The database of one process: an asyncpg pool on DATABASE_URL or on the embedded server.

`open_database` is the only place that decides which server paywire talks to.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from paywire.config import Settings
from paywire.errors import ConfigError, DatabaseUnavailable, host_port
from paywire.store import migrator
from paywire.store.embedded import EmbeddedPostgres
from paywire.store.migrator import GATEWAY_ROLE
from paywire.store.tx import Conn, Pool

# Every session works in UTC, so dates derived in SQL agree with the ones Python derives. A
# client whose host is gone without closing its connections (a lost node, a partition) is found
# out by the server within about a minute, by keepalives while the session waits on it and by
# the time its data stays unacknowledged otherwise, rather than by the kernel's two hours: its
# transaction is rolled back and the payments it had claimed, or the audit chain's head, freed.
SERVER_SETTINGS = {
    "TimeZone": "UTC",
    "application_name": "paywire",
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "60000",
}
# How long opening one connection may take, TLS and authentication included. A server that can
# answer does so in milliseconds, across regions in well under a second; one that has not in 10 s
# sits behind a route that drops packets or is down, and asyncpg's own 60 s only makes an
# operator wait for the same error.
CONNECT_TIMEOUT_S = 10.0


@dataclass(slots=True)
class Database:
    """An open pool and, when paywire runs its own PostgreSQL, the handle that keeps it running."""

    pool: Pool
    server: EmbeddedPostgres | None = None
    # Held only to open more pools on the same server; it may carry a password.
    _dsn: str = field(default="", repr=False)
    _role: str | None = field(default=None, repr=False)
    _more: list[Pool] = field(default_factory=list, repr=False)

    async def unbounded_pool(self, size: int) -> Pool:
        """Another pool on the same server whose statements run as long as they need, closed
        with this one: for the gateway's periodic jobs (the day's close, retention), which may
        rightly take longer than PAYWIRE_DB_COMMAND_TIMEOUT_S on a big database and would
        otherwise be cancelled and retried for ever. Connections open only when used."""
        pool = await create_pool(
            self._dsn, min_size=0, max_size=size, command_timeout=None, role=self._role
        )
        self._more.append(pool)
        return pool

    async def gateway_pool(self, settings: Settings) -> Pool:
        """Another pool on the same server, as `serve` opens its own: the embedded server's
        sessions take GATEWAY_ROLE, DATABASE_URL's login is used as it is; closed with this
        one. For the bench, which sets up as the owner (migrations, operators, the database's
        profile) and then runs the pipeline as the gateway does."""
        pool = await create_pool(
            self._dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=settings.db_command_timeout_s,
            # The embedded server's one login is its superuser; DATABASE_URL's is the role.
            role=GATEWAY_ROLE if self.server is not None else None,
        )
        self._more.append(pool)
        return pool

    async def close(self) -> None:
        for pool in (*self._more, self.pool):
            await pool.close()
        if self.server is not None:
            await self.server.stop()


async def open_database(
    settings: Settings,
    *,
    embedded_settings: Mapping[str, str] | None = None,
    bounded: bool = True,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    gateway: bool = False,
    url_setting: str | None = None,
) -> Database:
    """Start or join the embedded server unless DATABASE_URL is set, then open the pool.
    `embedded_settings` are server settings for an embedded server this call starts. Statements
    time out after PAYWIRE_DB_COMMAND_TIMEOUT_S unless `bounded` is false: for a migration, whose
    step may rightly run for minutes on a big database, a timeout would only roll it back.
    A server that has not answered a connection within `connect_timeout` is given up, saying so.

    With `gateway`, the embedded server's sessions take the role GATEWAY_ROLE: its superuser is
    the only login it has, and the gateway's statements are then held to the grants a deployment
    gives its gateway, here as there. DATABASE_URL's role is used as it is: to be held to those
    grants, it must be a login that is a member of GATEWAY_ROLE (docs/SECURITY.md).

    A refusal names the URL where it was set: by `url_setting` when an option gave it (a bad
    `bench --database-url` was answered "check DATABASE_URL", which the bench never reads), else
    by its key and the --config file or its variable (`Settings.named`)."""
    url_setting = url_setting or settings.named("database_url")
    server = None
    role = None
    dsn = settings.database_url
    if dsn is None:
        server = EmbeddedPostgres(settings.data_dir, embedded_settings)
        dsn = (await server.start()).dsn()
        role = GATEWAY_ROLE if gateway else None
    try:
        pool = await create_pool(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=settings.db_command_timeout_s if bounded else None,
            connect_timeout=connect_timeout,
            role=role,
        )
        try:
            # With PAYWIRE_DB_POOL_MIN=0 the pool connects only when first used: one
            # connection now, so that an unusable server is refused here, saying why, rather
            # than at the first request or step.
            async with pool.acquire():
                pass
        except BaseException:
            pool.terminate()
            raise
    except BaseException as exc:
        if server is not None:
            await server.stop()
        if isinstance(exc, (ValueError, OverflowError)):
            # The driver could not read the DSN; its message may quote it, password and all.
            raise ConfigError(
                f"{url_setting} is not a usable postgresql://user:password@host:port/database "
                "URL (its value is not shown: it may hold a password)"
            ) from None
        if isinstance(exc, _UNREACHABLE):
            message = _unreachable(dsn, server is not None, exc, connect_timeout, url_setting)
            raise DatabaseUnavailable(message) from None
        raise
    return Database(pool, server, dsn, role)


# What opening a pool raises when the server is not there, refuses us, or has no such database.
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _unreachable(
    dsn: str, embedded: bool, exc: BaseException, connect_timeout: float, url_setting: str
) -> str:
    """Where paywire tried and why it failed, without the URL's password, and what to check."""
    parts = urlsplit(dsn)
    port: int | str
    try:
        port = parts.port or 5432
    except ValueError:  # a port out of range (99999), shown as written
        port = parts.netloc.rpartition(":")[2]
    # A URL without a host (a Unix socket in its query) is named, not shown.
    where = (
        f"{host_port(parts.hostname, port)}{parts.path}"
        if parts.hostname
        else f"the server of {url_setting}"
    )
    if isinstance(exc, TimeoutError):
        # The driver's TimeoutError has no message of its own.
        why = f"no answer within {connect_timeout:g} s"
        check = (
            f"{url_setting} and that the server is reachable from here (address, port, firewall)"
        )
    else:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        check = f"{url_setting} and that the server is running and accepts this user"
    if embedded:
        check = "the embedded server under PAYWIRE_DATA_DIR"
    return f"cannot open the database at {where}: {why}; check {check}"


@asynccontextmanager
async def database(settings: Settings, *, bounded: bool = True) -> AsyncIterator[Database]:
    db = await open_database(settings, bounded=bounded)
    try:
        yield db
    finally:
        await db.close()


@asynccontextmanager
async def current_database(settings: Settings) -> AsyncIterator[Database]:
    """`database`, refused with what to run (`paywire migrate`) unless its schema is the
    latest: the commands that read or write records. Their statements are not bounded by
    PAYWIRE_DB_COMMAND_TIMEOUT_S, which is the gateway's: a day's report or the audit chain of a
    big database may rightly take longer, and an operator sees a command that waits."""
    async with database(settings, bounded=False) as db:
        async with db.pool.acquire() as conn:
            await migrator.require_current(conn)
        yield db


class PooledConnection(asyncpg.Connection):
    """Goes back to the pool without asyncpg's reset statement.

    asyncpg sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` whenever a
    connection is released: one more round trip and four statements for every transaction,
    which took a third off the rate of short transactions such as an API request's
    (benches/RESULTS.md, "Seventh round"). paywire leaves no session state behind to reset:
    settings are start-up parameters (SERVER_SETTINGS), a transaction left open is still rolled
    back on release, the one session lock (the migrator's) is released by its own `finally`, and
    nothing listens or keeps a cursor past its transaction. Code that sets session state must
    undo it itself."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(
    dsn: str,
    *,
    min_size: int,
    max_size: int,
    command_timeout: float | None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    role: str | None = None,
) -> Pool:
    """A pool whose connections speak paywire's codecs; used by the app and by the tests.
    `connect_timeout` bounds every connection the pool opens, the ones it reopens after an
    outage too. With `role`, every session takes that role from its start (the login must be
    allowed to SET ROLE to it).

    With a `command_timeout`, a transaction that waits on its client longer than a statement
    may run is rolled back by the server: the gateway's code between two statements takes
    milliseconds, so its client has stopped (a process frozen, a host gone while its
    connections look open), and what it locked (claimed payments, the audit chain's head) is
    freed for the other gateways."""
    server_settings = {**SERVER_SETTINGS}
    if role is not None:
        server_settings["role"] = role
    if command_timeout is not None:
        idle_ms = max(1, math.ceil(command_timeout * 1000))
        server_settings["idle_in_transaction_session_timeout"] = str(idle_ms)
    pool: Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        timeout=connect_timeout,
        init=init_connection,
        server_settings=server_settings,
        connection_class=PooledConnection,
    )
    return pool


async def ping(pool: Pool, within_s: float) -> None:
    """One round trip to the server within `within_s` seconds (TimeoutError past it), or whatever
    else stopped it. A connection that did not answer in time is closed, not given back: the
    pool would first wait for its query's cancellation, which a server gone silent (a partition
    dropping packets) never confirms, holding the caller for up to the command timeout."""
    conn = None
    try:
        async with asyncio.timeout(within_s):
            conn = await pool.acquire()
            await conn.fetchval("SELECT 1")
    except TimeoutError:
        if conn is not None:
            conn.terminate()
        raise
    finally:
        if conn is not None:
            await pool.release(conn)


async def init_connection(conn: Conn) -> None:
    """jsonb travels as Python values, encoded and decoded by orjson, in the binary format, so
    that it can also be written with COPY (the audit rows are)."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_json, decoder=_decode_json, format="binary"
    )


# Binary jsonb is a version byte, then the JSON text.
_JSONB_VERSION = b"\x01"


def _encode_json(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_json(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])
