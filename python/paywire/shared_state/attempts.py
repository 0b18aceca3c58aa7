"""Login attempts counted in Redis: a sorted set of attempt times per user name, trimmed to the
lockout window and expiring by itself, so a password-spraying run writes nothing to PostgreSQL
until a name is locked. The lock itself stays in PostgreSQL, durable and audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from paywire.services.auth_state import PostgresAttempts
from paywire.shared_state.link import Down, RedisLink

# Drop attempts older than the window, add this one, keep the set no longer than the window.
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""


class RedisAttempts:
    """An `AttemptCounter` shared by every gateway process on one Redis; while Redis is down,
    `fallback` (the PostgreSQL counter) counts instead, and what it counted still counts once
    Redis is back: an outage, even a blip of one slow call, must not hand out fresh tries."""

    def __init__(self, link: RedisLink, fallback: PostgresAttempts, window: timedelta) -> None:
        self._link = link
        self._fallback = fallback
        self._window = window
        self._count = link.script(_COUNT)

    async def count(self, username: str, now: datetime) -> int:
        at = now.timestamp()
        counted = await self._link.run_script(
            "login attempts",
            self._count,
            [self._key(username)],
            [
                repr(at - self._window.total_seconds()),
                repr(at),
                f"{at!r}:{uuid.uuid4().hex}",  # unique, so simultaneous attempts all count
                int(self._window.total_seconds() * 1000),
            ],
        )
        if isinstance(counted, Down):
            return await self._fallback.count(username, now)
        # Attempts made during an outage are in PostgreSQL (normally none: one indexed read).
        return int(counted) + await self._fallback.recent(username, now)

    async def forgive(self, username: str, at: datetime) -> None:
        score = repr(at.timestamp())
        await self._link.call(
            "login attempts",
            lambda client: client.zremrangebyscore(self._key(username), score, score),
        )
        # Counted while Redis was down, the attempt lives in PostgreSQL: forgive it there too.
        await self._fallback.forgive(username, at)

    def _key(self, username: str) -> str:
        return self._link.key("login-attempts", username)
