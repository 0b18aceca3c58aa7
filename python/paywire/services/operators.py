"""Operators: login with lockout, bearer tokens, logout, and their management by an ADMIN.

argon2 runs in worker threads of its own, so a login never blocks the event loop, and at most
two at a time (`HASHING_WORKERS`); tokens are opaque and only their SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.credentials import normalise_username, password_problem, username_problem
from paywire.domain.payment import utc_iso
from paywire.domain.roles import Actor, Role, parse_roles, require_role
from paywire.domain.validation import Problems
from paywire.errors import AuthenticationError, Conflict, NotFound, Throttled
from paywire.services.auth_state import AttemptCounter, PostgresAttempts, SessionCache
from paywire.store import audit
from paywire.store import operators as store
from paywire.store.operators import Operator
from paywire.store.tx import Db, connection, transaction

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
# argon2id with the library's defaults (RFC 9106's second recommendation: t=3, m=64 MiB, p=4).
DEFAULT_HASHER = PasswordHasher()
# Verified when the user name is unknown, so that answers take as long as for a known one.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$BlbNxZaxq6ErzVDjZsQepA"
    "$8yJf5kFARPLqWJFGGAvNPHPokm+az59YpTJ3zZr0mag"
)
# Each hash takes 64 MiB and four lanes for ~0.12 s. Two at a time keep two cores busy; more would
# only add 64 MiB each, which a burst of logins can ask for before any is authenticated. Measured
# with 20 concurrent logins: asyncio's default pool (6 threads here) peaked at 412 MB and took
# 2.0 s, two workers 156 MB and 1.8 s (docs/SECURITY.md).
HASHING_WORKERS = 2
_HASHING = ThreadPoolExecutor(max_workers=HASHING_WORKERS, thread_name_prefix="paywire-argon2")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Login:
    """A new session: the bearer token is shown here once and stored only as a hash."""

    token: str
    expires_at: datetime
    operator: Operator

    def as_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "expires_at": utc_iso(self.expires_at),
            "operator": self.operator.as_dict(),
        }


async def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return await _hashing(hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; the hash carries its own parameters."""
    return await _hashing(_verify, password_hash, password)


async def _hashing(work: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work, *args)


async def login(
    db: Db,
    username: object,
    password: object,
    *,
    token_ttl_s: int,
    request_id: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
    attempts: AttemptCounter | None = None,
) -> Login:
    """A session for valid credentials of an active operator.

    Five failures for one user name within fifteen minutes lock that name for fifteen minutes
    (Throttled), whether or not an operator has it; while locked even the right password fails.
    Each attempt is counted before its password is checked, so concurrent guesses cannot slip
    past the limit while the first ones are still being verified. `attempts` counts them
    (default: the name's `login_throttle` row); the lock itself is always kept in PostgreSQL.
    """
    if not isinstance(username, str) or not isinstance(password, str):
        raise AuthenticationError("invalid user name or password")
    name = normalise_username(username)
    if username_problem(name) is not None:
        # No operator can have this name: nothing to count or lock, but take as long as a check.
        await verify_password(_DUMMY_HASH, password)
        raise AuthenticationError("invalid user name or password")
    counter = attempts or PostgresAttempts(db, LOCKOUT_WINDOW)
    now = datetime.now(UTC)
    async with connection(db) as conn:
        until = await store.locked_until(conn, name, now)
    if until is not None:
        raise _locked(until)
    counted = await counter.count(name, now)
    if counted > LOCKOUT_FAILURES:
        # More attempts than allowed are under way at once: none of them gets a guess.
        await _lock(db, name, now, request_id)
    async with connection(db) as conn:
        found = await store.credentials(conn, name)
    valid = await verify_password(found[1] if found else _DUMMY_HASH, password)
    if found is None or not valid or not found[0].active:
        if counted >= LOCKOUT_FAILURES:
            await _lock(db, name, now, request_id)
        raise AuthenticationError("invalid user name or password")
    stored_hash = found[1]
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=token_ttl_s)
    rehashed = await _rehash(stored_hash, password, hasher)
    async with transaction(db) as conn:
        # While argon2 checked the password, an admin may have changed it or deactivated the
        # operator, and ended their sessions: a session (or a re-hash of the old password) is
        # only for credentials that are still the operator's. The row lock orders this against
        # `update_operator`, which then ends this session too.
        current = await store.credentials(conn, name, lock=True)
        if current is None or current[1] != stored_hash or not current[0].active:
            raise AuthenticationError("invalid user name or password")
        operator = current[0]
        await store.insert_session(conn, token_digest(token), operator.id, now, expires_at)
        if rehashed is not None:
            await store.update(conn, operator.id, password_hash=rehashed)
        await audit.append(conn, [_entry(operator, "auth.login", operator, request_id)], now)
    await counter.clear(name)
    return Login(token, expires_at, operator)


async def authenticate(db: Db, token: str, *, cache: SessionCache | None = None) -> Operator:
    """The operator of a live (unexpired, unrevoked) session of an active operator; from
    `cache` when it holds the session, else from PostgreSQL (and then cached)."""
    digest = token_digest(token)
    ticket = None
    if cache is not None:
        cached, ticket = await cache.lookup(digest)
        if cached is not None:
            return cached
    async with connection(db) as conn:
        found = await store.session_operator(conn, digest, datetime.now(UTC))
    if found is None:
        raise AuthenticationError("invalid or expired token")
    operator, expires_at = found
    if cache is not None:
        await cache.store(digest, operator, expires_at, ticket)
    return operator


async def logout(
    db: Db, token: str, *, request_id: str | None = None, cache: SessionCache | None = None
) -> None:
    """Revoke the session of `token`; revoking an unknown or dead token changes nothing."""
    now = datetime.now(UTC)
    digest = token_digest(token)
    async with transaction(db) as conn:
        operator_id = await store.revoke_session(conn, digest, now)
        operator = await store.get(conn, operator_id) if operator_id else None
        if operator is not None:
            await audit.append(conn, [_entry(operator, "auth.logout", operator, request_id)], now)
    if cache is not None:
        await cache.forget_token(digest)


async def create_operator(
    db: Db,
    actor: Actor,
    username: object,
    password: object,
    roles: object,
    *,
    request_id: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> Operator:
    """A new active operator (ADMIN)."""
    require_role(actor, Role.ADMIN)
    name, secret, role_set = check_operator(username, password, roles)
    password_hash = await hash_password(secret, hasher)
    async with transaction(db) as conn:
        try:
            operator = await store.insert(conn, name, password_hash, role_set)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"an operator {name} exists already") from None
        await audit.append(conn, [_entry(actor, "operator.create", operator, request_id)])
    return operator


async def update_operator(
    db: Db,
    actor: Actor,
    operator_id: UUID,
    *,
    roles: object = None,
    active: object = None,
    password: object = None,
    request_id: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
    cache: SessionCache | None = None,
) -> Operator:
    """Change roles, active flag or password (ADMIN); deactivation or a new password ends the
    operator's sessions. Any change drops the operator's cached sessions, so new roles count
    from the next request on."""
    require_role(actor, Role.ADMIN)
    async with connection(db) as conn:
        current = await store.get(conn, operator_id)
    if current is None:
        raise NotFound(f"no operator {operator_id}")
    problems = Problems()
    role_set = _roles(roles, problems) if roles is not None else None
    if active is not None and not isinstance(active, bool):
        problems.add("active", "must be true or false")
    if password is not None:
        problem = (
            password_problem(password, current.username)
            if isinstance(password, str)
            else "must be a string"
        )
        if problem is not None:
            problems.add("password", problem)
    problems.raise_any("invalid operator change")
    new_hash = await hash_password(password, hasher) if isinstance(password, str) else None
    now = datetime.now(UTC)
    async with transaction(db) as conn:
        before = await store.get(conn, operator_id, lock=True)
        after = await store.update(
            conn,
            operator_id,
            password_hash=new_hash,
            roles=role_set,
            active=active if isinstance(active, bool) else None,
        )
        assert before is not None  # operators are never deleted
        assert after is not None
        if new_hash is not None or not after.active:
            await store.revoke_all_sessions(conn, operator_id, now)
        entry = AuditEntry(
            operator=actor.username,
            action="operator.update",
            entity="operator",
            entity_id=str(operator_id),
            before=before.audited(),
            after={**after.audited(), "password_changed": new_hash is not None},
            request_id=request_id,
        )
        await audit.append(conn, [entry], now)
    if cache is not None:
        await cache.forget_operator(operator_id)
    return after


async def list_operators(db: Db) -> list[Operator]:
    async with connection(db) as conn:
        return await store.all_operators(conn)


def check_operator(
    username: object, password: object, roles: object
) -> tuple[str, str, frozenset[Role]]:
    """A new operator's user name, password and roles, or ValidationError naming each problem."""
    problems = Problems()
    name = normalise_username(username) if isinstance(username, str) else ""
    problem = username_problem(name) if isinstance(username, str) else "must be a string"
    if problem is not None:
        problems.add("username", problem)
    problem = password_problem(password, name) if isinstance(password, str) else "must be a string"
    if problem is not None:
        problems.add("password", problem)
    role_set = _roles(roles, problems)
    problems.raise_any("invalid operator")
    assert isinstance(password, str)
    assert role_set is not None
    return name, password, role_set


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _roles(roles: object, problems: Problems) -> frozenset[Role] | None:
    if not isinstance(roles, list | tuple):
        problems.add("roles", "must be a list of roles")
        return None
    try:
        return parse_roles(roles)
    except ValueError as exc:
        problems.add("roles", str(exc))
        return None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return DEFAULT_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _rehash(stored: str, password: str, hasher: PasswordHasher) -> str | None:
    """A new hash when the stored one was made with other parameters than `hasher`'s."""
    return await hash_password(password, hasher) if hasher.check_needs_rehash(stored) else None


async def _lock(db: Db, name: str, now: datetime, request_id: str | None) -> NoReturn:
    """Lock `name` (audited once, however many attempts hit the limit together) and refuse."""
    until = now + LOCKOUT_DURATION
    async with transaction(db) as conn:
        earlier = await store.lock(conn, name, now, until)
        if earlier is None:
            entry = AuditEntry(
                operator=name,
                action="auth.lockout",
                entity="operator",
                entity_id=name,
                after={"locked_until": utc_iso(until)},
                request_id=request_id,
            )
            await audit.append(conn, [entry], now)
    raise _locked(earlier or until)


def _locked(until: datetime) -> Throttled:
    return Throttled(
        f"too many failed logins: this user name is locked until {utc_iso(until)}",
        details=[{"field": "username", "message": f"locked until {utc_iso(until)}"}],
    )


def _entry(actor: Actor, action: str, operator: Operator, request_id: str | None) -> AuditEntry:
    return AuditEntry(
        operator=actor.username,
        action=action,
        entity="operator",
        entity_id=str(operator.id),
        after=operator.audited(),
        request_id=request_id,
    )
