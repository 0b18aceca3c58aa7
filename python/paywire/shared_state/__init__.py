"""State shared by gateway processes through Redis when REDIS_URL is set: login attempt
counters, a cache of live sessions, and each receiver's circuit-breaker verdict.

PostgreSQL remains the source of truth for sessions and locks; Redis only spares it work and
lets breakers agree. Without REDIS_URL, or while Redis is down, each process works alone.
"""

from __future__ import annotations

from paywire.config import Settings
from paywire.services.auth import LOCKOUT_WINDOW
from paywire.services.auth_state import AttemptCounter, PostgresAttempts
from paywire.shared_state.attempts import RedisAttempts
from paywire.shared_state.breaker import RedisBreakerState
from paywire.shared_state.link import RedisLink
from paywire.shared_state.sessions import RedisSessionCache
from paywire.store.tx import Db


class SharedState:
    """One process's handle on the shared state; `close()` it when the process stops."""

    def __init__(self, link: RedisLink, db: Db) -> None:
        self.link = link
        self.sessions = RedisSessionCache(link, db)

    @classmethod
    def from_settings(cls, settings: Settings, db: Db) -> SharedState | None:
        """The shared state REDIS_URL names, or None without it; `db` holds the key that signs
        what is cached. Nothing is dialled yet: an unreachable Redis shows on first use, as a
        logged fallback, never as a failed start."""
        if not settings.redis_url:
            return None
        return cls(RedisLink(settings.redis_url), db)

    def attempts(self, db: Db) -> AttemptCounter:
        return RedisAttempts(self.link, PostgresAttempts(db, LOCKOUT_WINDOW), LOCKOUT_WINDOW)

    def breaker(self, host: str, port: int) -> RedisBreakerState:
        return RedisBreakerState(self.link, f"{host}:{port}")

    async def close(self) -> None:
        await self.link.close()


__all__ = ["SharedState"]
