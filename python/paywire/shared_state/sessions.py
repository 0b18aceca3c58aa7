"""Live sessions cached in Redis for every gateway process, so most token checks skip
PostgreSQL, which stays the source of truth: it is read on a miss, and every revocation is made
there first and then dropped from the cache.

Entries live at most `CACHE_TTL` and never past their session's expiry. A revocation bumps a
generation counter; an entry read from PostgreSQL is cached only if the counter has not moved
since before that read, so a check racing a logout cannot put the revoked session back.

A revocation Redis did not take (it was down, or its link paused after a slow call) is
remembered by the process that made it and sent again with each of its checks until Redis takes
it (the other processes drop their copies then) or every copy has expired anyway; meanwhile
that process reads every session from PostgreSQL and caches none.

Redis is not trusted with who an operator is: each entry is signed (HMAC-SHA256, over the token
hash, the operator and the entry's end) with a key kept in PostgreSQL (migration 0015). An entry
someone wrote into Redis without the key, or one replayed past its end, is a miss, logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import orjson

from paywire.domain.operators import Operator
from paywire.shared_state.link import Down, RedisLink
from paywire.store import operators as store
from paywire.store.tx import Db, connection

log = logging.getLogger("paywire.shared_state")

K = TypeVar("K")

CACHE_TTL = timedelta(seconds=30)
# How long a revocation Redis missed is remembered and sent again: every copy cached before it,
# or stored by a check that read PostgreSQL just before it, is gone by then.
_MISSED_FOR_S = 2 * CACHE_TTL.total_seconds()
_SIGNATURE_BYTES = hashlib.sha256().digest_size

# KEYS: generation, entry, the operator's index; ARGV: ticket, entry, ttl ms, token, index ttl ms.
_STORE = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1
"""
# KEYS: generation, entry.
_DROP_ONE = """
redis.call('INCR', KEYS[1])
return redis.call('DEL', KEYS[2])
"""
# KEYS: generation, the operator's index; ARGV: the entries' key prefix. One Redis server (or
# one slot): the entry keys are derived inside the script.
_DROP_OPERATOR = """
redis.call('INCR', KEYS[1])
for _, token in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[1] .. token)
end
return redis.call('DEL', KEYS[2])
"""


class RedisSessionCache:
    """A `SessionCache` on Redis, its entries signed with the key in `db`. While Redis is down
    every check reads PostgreSQL."""

    def __init__(self, link: RedisLink, db: Db) -> None:
        self._link = link
        self._db = db
        self._key: bytes | None = None
        self._generation = link.key("sessions", "generation")
        self._store = link.script(_STORE)
        self._forget_token = link.script(_DROP_ONE)
        self._forget_operator = link.script(_DROP_OPERATOR)
        # Revocations Redis missed, each until its monotonic deadline.
        self._missed_tokens: dict[bytes, float] = {}
        self._missed_operators: dict[UUID, float] = {}

    async def lookup(self, token_hash: bytes) -> tuple[Operator | None, object]:
        if (self._missed_tokens or self._missed_operators) and not await self._resend_missed():
            # A copy of a revoked session may still be there, and the generation did not move:
            # nothing read from Redis is trusted, nor stored, until it takes the revocation.
            return None, None
        found = await self._link.call(
            "session lookup",
            lambda client: client.mget([self._entry(token_hash.hex()), self._generation]),
        )
        if isinstance(found, Down):
            return None, None
        entry, generation = found
        ticket = generation or b"0"
        if entry is None:
            return None, ticket
        raw = entry if isinstance(entry, bytes) else entry.encode()
        return _verified(await self._signing_key(), token_hash, raw), ticket

    async def store(
        self, token_hash: bytes, operator: Operator, expires_at: datetime, ticket: object
    ) -> None:
        if not isinstance(ticket, bytes):
            return  # looked up while Redis was down: nothing to compare against
        ttl = min(CACHE_TTL, expires_at - datetime.now(UTC))
        ttl_ms = int(ttl.total_seconds() * 1000)
        if ttl_ms <= 0:
            return
        until = datetime.now(UTC) + timedelta(milliseconds=ttl_ms)
        payload = orjson.dumps({"operator": operator.as_dict(), "until": until.isoformat()})
        signed = _signature(await self._signing_key(), token_hash, payload) + payload
        await self._link.run_script(
            "session store",
            self._store,
            [self._generation, self._entry(token_hash.hex()), self._index(operator.id)],
            [
                ticket,
                signed,
                ttl_ms,
                token_hash.hex(),
                int(CACHE_TTL.total_seconds() * 1000),
            ],
        )

    async def forget_token(self, token_hash: bytes) -> None:
        if not await self._drop_token(token_hash):
            self._missed_tokens[token_hash] = time.monotonic() + _MISSED_FOR_S
            _not_propagated()

    async def forget_operator(self, operator_id: UUID) -> None:
        if not await self._drop_operator(operator_id):
            self._missed_operators[operator_id] = time.monotonic() + _MISSED_FOR_S
            _not_propagated()

    async def _drop_token(self, token_hash: bytes) -> bool:
        done = await self._link.run_script(
            "session revoke",
            self._forget_token,
            [self._generation, self._entry(token_hash.hex())],
            [],
        )
        return not isinstance(done, Down)

    async def _drop_operator(self, operator_id: UUID) -> bool:
        done = await self._link.run_script(
            "operator sessions revoke",
            self._forget_operator,
            [self._generation, self._index(operator_id)],
            [self._entry("")],
        )
        return not isinstance(done, Down)

    async def _resend_missed(self) -> bool:
        """Send the revocations Redis missed again; whether none is left."""
        now = time.monotonic()
        return await _resend(self._missed_tokens, self._drop_token, now) and await _resend(
            self._missed_operators, self._drop_operator, now
        )

    async def _signing_key(self) -> bytes:
        # Read once; checks racing the first read each read the same key, which is harmless.
        if self._key is None:
            async with connection(self._db) as conn:
                self._key = await store.session_cache_key(conn)
        return self._key

    def _entry(self, token_hex: str) -> str:
        return self._link.key("session", token_hex)

    def _index(self, operator_id: UUID) -> str:
        return self._link.key("operator-sessions", str(operator_id))


async def _resend(missed: dict[K, float], drop: Callable[[K], Awaitable[bool]], now: float) -> bool:
    """Each of `missed` dropped again, or forgotten once past its deadline, until Redis fails
    one; whether none is left. Checks run side by side: one may have sent an entry meanwhile,
    or the same revocation may have been missed again (a later deadline), which stays."""
    for key, deadline in list(missed.items()):
        if deadline > now and not await drop(key):
            return False
        if missed.get(key) == deadline:
            del missed[key]
    return not missed


def _signature(key: bytes, token_hash: bytes, payload: bytes) -> bytes:
    return hmac.new(key, token_hash + payload, hashlib.sha256).digest()


def _verified(key: bytes, token_hash: bytes, entry: bytes) -> Operator | None:
    """The operator of a cache entry that carries this process's signature for this token and
    has not outlived its end; None (a miss, PostgreSQL decides) for anything else."""
    signature, payload = entry[:_SIGNATURE_BYTES], entry[_SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _signature(key, token_hash, payload)):
        log.warning("a cached session failed its signature check: written without the key")
        return None
    data = orjson.loads(payload)
    if datetime.fromisoformat(data["until"]) <= datetime.now(UTC):
        log.warning("a cached session was replayed past its end")
        return None
    if "password_change_required" not in data["operator"]:
        # Cached by a gateway from before migration 0021 (a rolling upgrade): it cannot say
        # whether the operator must choose their own password first.
        return None
    return Operator.from_dict(data["operator"])


def _not_propagated() -> None:
    # PostgreSQL has the revocation, and this process remembers it while it runs; a copy
    # another process cached may live until Redis takes it or out its TTL.
    log.error(
        "a revocation could not reach redis: other gateways may believe their cached copy for"
        " up to %d s (this process sends it again while it runs)",
        CACHE_TTL.total_seconds(),
    )
