"""What login throttling and token checks may share between gateway processes beyond
PostgreSQL: an attempt counter and a session cache. PostgreSQL stays the source of truth for
sessions and locks; `paywire.shared_state` implements both protocols on Redis.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from paywire.domain.operators import Operator
from paywire.store import operators as store
from paywire.store.tx import Db, connection, transaction


class AttemptCounter(Protocol):
    """Login attempts per user name within a sliding window."""

    async def count(self, username: str, now: datetime) -> int:
        """Count one more attempt; the attempts within the window, this one included."""
        ...

    async def forgive(self, username: str, at: datetime) -> None:
        """Uncount the attempt counted at `at`, which succeeded. The failures before it still
        count: five within the window lock the name (SPEC §6), a success between them or not."""
        ...


class SessionCache(Protocol):
    """Live sessions by token hash, so a token check need not read PostgreSQL every time.

    `lookup` also returns a ticket to hand to `store`: an entry read from the database is only
    stored when no revocation happened since the ticket was issued, so a cache never brings a
    revoked session back.
    """

    async def lookup(self, token_hash: bytes) -> tuple[Operator | None, object]: ...

    async def store(
        self, token_hash: bytes, operator: Operator, expires_at: datetime, ticket: object
    ) -> None: ...

    async def forget_token(self, token_hash: bytes) -> None: ...

    async def forget_operator(self, operator_id: UUID) -> None: ...


class PostgresAttempts:
    """The default counter: the `login_throttle` row of the name, shared by every process."""

    def __init__(self, db: Db, window: timedelta) -> None:
        self._db = db
        self._window = window

    async def count(self, username: str, now: datetime) -> int:
        async with transaction(self._db) as conn:
            return await store.count_attempt(conn, username, now, window=self._window)

    async def recent(self, username: str, now: datetime) -> int:
        """The attempts within the window, without counting one more."""
        async with connection(self._db) as conn:
            return await store.recent_attempts(conn, username, now, window=self._window)

    async def forgive(self, username: str, at: datetime) -> None:
        async with transaction(self._db) as conn:
            await store.forgive_attempt(conn, username, at)
