"""The gateway's one Redis connection and how an outage is absorbed: short timeouts, then a
pause during which every shared-state call answers from this process alone, so a dead Redis
costs payments nothing but the sharing.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = logging.getLogger("paywire.shared_state")

T = TypeVar("T")
Redis = aioredis.Redis


class Down(enum.Enum):
    """What a call answers while Redis cannot be reached: the caller uses its local state."""

    DOWN = "down"


DOWN = Down.DOWN


class RedisLink:
    """Calls to Redis with a bounded cost. A call that fails or takes longer than `timeout_s`
    marks Redis down for `pause_s`; until then calls answer `DOWN` at once, and the first call
    after the pause tries again. Each change between up and down is logged once."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "paywire:",
        timeout_s: float = 0.5,
        pause_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # No retries inside the client: a retry would only lengthen the stall the pause avoids.
        self._client: Redis = aioredis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self.prefix = prefix
        self._timeout_s = timeout_s
        self._pause_s = pause_s
        self._clock = clock
        self._down_until: float | None = None

    @property
    def up(self) -> bool:
        """False from a failed call until the next call that succeeds."""
        return self._down_until is None

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def script(self, source: str) -> AsyncScript:
        """A Lua script, run atomically by the server (loaded again after a Redis restart)."""
        return self._client.register_script(source)

    async def call(self, what: str, op: Callable[[Redis], Awaitable[T]]) -> T | Down:
        """`op`'s result, or `DOWN` when Redis is unreachable or paused after a failure."""
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            return DOWN
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await op(self._client)
        except (RedisError, OSError, TimeoutError) as exc:
            if self._down_until is None:
                log.warning(
                    "redis unreachable: shared state falls back to this process",
                    extra={"operation": what, "error": type(exc).__name__},
                )
            self._down_until = now + self._pause_s
            return DOWN
        if self._down_until is not None:
            log.warning("redis reachable again: shared state resumes", extra={"operation": what})
            self._down_until = None
        return result

    async def run_script(
        self, what: str, script: AsyncScript, keys: list[str], args: list[Any]
    ) -> Any:
        """Run `script`; `DOWN` as for `call`."""
        return await self.call(what, lambda client: script(keys=keys, args=args, client=client))

    async def close(self) -> None:
        await self._client.aclose()
