"""Connection types and the one way store and services open or join a transaction.

A caller that already holds a transaction passes its connection; everything then commits together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Record: TypeAlias = asyncpg.Record
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
# What a service accepts: a pool (it runs its own transaction) or a connection (it joins one).
Db: TypeAlias = "Pool | Conn"

# Failures that say nothing about the work itself: the database went away, restarted, ran out of
# something, or was busy. The pipeline retries its step on them (taken for the work's fault, they
# would drop answers and quarantine payments one by one while the database is in trouble), and
# the API answers 503 with a Retry-After instead of an internal error.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    # Class 57: a shutdown, a crash restart, a server not yet accepting connections, a statement
    # cancelled (statement_timeout, or an operator's pg_cancel_backend).
    asyncpg.OperatorInterventionError,
    # Class 53: too many connections, out of memory, disk full.
    asyncpg.InsufficientResourcesError,
    # lock_timeout: a lock another transaction holds.
    asyncpg.LockNotAvailableError,
    # 25006: a server that takes no writes (a standby the pool reached after a failover).
    asyncpg.ReadOnlySQLTransactionError,
    # Class 58: the server's own I/O failed.
    asyncpg.PostgresSystemError,
)

# How long a transaction waits for a connection of its pool. asyncpg waits without end: when
# every connection is busy (a load peak on the pool the API shares with the pipeline, exports
# on the reports' two), a request would wait behind however many transactions are ahead of it,
# its client long gone. Past this, the wait raises TimeoutError, one of the TRANSIENT_ERRORS:
# the API answers 503 with a Retry-After, the pipeline tries its step again.
POOL_WAIT_S = 10.0


def qualified(columns: str, alias: str) -> str:
    """`columns` ("id, kind, …") each with the table's `alias`, for a statement that joins
    tables sharing some of their names."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[Conn]:
    """A connection inside a transaction: the caller's own if it has one, else a new one.

    Joining never opens a savepoint: a failure aborts the caller's whole transaction, which is
    what an all-or-nothing state change wants, and it saves two round trips per call.
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire(timeout=POOL_WAIT_S) as conn, conn.transaction():
            yield conn
    elif db.is_in_transaction():
        yield db
    else:
        async with db.transaction():
            yield db


@asynccontextmanager
async def connection(db: Db) -> AsyncIterator[Conn]:
    """A connection for reads that need no transaction of their own."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire(timeout=POOL_WAIT_S) as conn:
            yield conn
    else:
        yield db
