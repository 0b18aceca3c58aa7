"""Password hashing with argon2, in worker threads of its own.

A hash never blocks the event loop, at most `HASHING_WORKERS` run at once (each holds 64 MiB)
and at most `MAX_QUEUED_HASHES` wait or run: the login endpoint is reachable before
authentication (docs/SECURITY.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paywire.errors import Throttled

# argon2id with the library's defaults (RFC 9106's second recommendation: t=3, m=64 MiB, p=4).
DEFAULT_HASHER = PasswordHasher()
# Verified when the user name is unknown, so that answers take as long as for a known one.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$BlbNxZaxq6ErzVDjZsQepA"
    "$8yJf5kFARPLqWJFGGAvNPHPokm+az59YpTJ3zZr0mag"
)
# Each hash takes 64 MiB and four lanes for ~0.12 s. Two at a time keep two cores busy; more would
# only add 64 MiB each, which a burst of logins can ask for before any is authenticated. Measured
# with 20 concurrent logins: asyncio's default pool (6 threads here) peaked at 412 MB and took
# 2.0 s, two workers 156 MB and 1.8 s (docs/SECURITY.md).
HASHING_WORKERS = 2
# Hashes waiting or running at once, at most; past it one is refused at once (429). The login
# endpoint is reachable before authentication and a check takes ~0.12 s, so ~16 logins a second
# fill the workers: without a bound, anyone sending more made every operator's login wait longer
# and longer, without end. With it, a flood costs an operator at most ~2 s of waiting, or a
# refusal to retry.
MAX_QUEUED_HASHES = 32

T = TypeVar("T")

# Set while a login holds its place in the queue (`reserved`): its hashes take no other.
_RESERVED: ContextVar[bool] = ContextVar("paywire_hashing_reserved", default=False)


class _Hashing:
    """The workers and the count of places taken in their queue: a hash given to them and not
    yet done, or a login's place held from its start (`reserved`)."""

    def __init__(self, workers: int, limit: int) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="paywire-argon2"
        )
        self._limit = limit
        self._queued = 0

    @property
    def full(self) -> bool:
        return self._queued >= self._limit

    def take(self) -> None:
        """Take a place, or refuse at once (429) when none is left."""
        if self.full:
            raise busy()
        self._queued += 1

    def give_back(self) -> None:
        self._queued -= 1

    async def run(self, work: Callable[..., T], *args: str) -> T:
        held = _RESERVED.get()
        if not held:
            self.take()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            if not held:
                self.give_back()


_HASHING = _Hashing(HASHING_WORKERS, MAX_QUEUED_HASHES)


def busy() -> Throttled:
    return Throttled("too many password checks are under way; try again in a second")


@contextmanager
def reserved() -> Iterator[None]:
    """A place in the hashing queue held for a login (or a password change) from its start, for
    the checks it makes in the block: refused at once (429) when none is left, before its
    attempt is counted, and its checks then run in that place, which a flood of others' logins
    arriving meanwhile cannot take. Refused only once counted, an operator retrying through a
    flood would lock their own name without a password ever being checked."""
    _HASHING.take()
    token = _RESERVED.set(True)
    try:
        yield
    finally:
        _RESERVED.reset(token)
        _HASHING.give_back()


async def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return await _hashing(hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; the hash carries its own parameters."""
    return await _hashing(_verify, password_hash, password)


async def rehash(stored: str, password: str, hasher: PasswordHasher) -> str | None:
    """A new hash when the stored one was made with other parameters than `hasher`'s."""
    return await hash_password(password, hasher) if hasher.check_needs_rehash(stored) else None


async def _hashing(work: Callable[..., T], *args: str) -> T:
    return await _HASHING.run(work, *args)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return DEFAULT_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
