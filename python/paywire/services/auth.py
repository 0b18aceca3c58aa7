"""Sessions of operators: login with lockout, bearer tokens, token checks and logout.

Tokens are opaque and only their SHA-256 is stored; the lockout is kept in PostgreSQL whoever
counts the attempts (`paywire.services.auth_state`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from argon2 import PasswordHasher

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.credentials import normalise_username, password_problem, username_problem
from paywire.domain.operators import Operator
from paywire.domain.payment import utc_iso
from paywire.domain.validation import Problems
from paywire.errors import AuthenticationError, Conflict, Throttled, ValidationError
from paywire.services.auth_state import AttemptCounter, PostgresAttempts, SessionCache
from paywire.services.operators import operator_entry
from paywire.services.passwords import (
    DEFAULT_HASHER,
    DUMMY_HASH,
    hash_password,
    rehash,
    reserved,
    verify_password,
)
from paywire.store import audit
from paywire.store import operators as store
from paywire.store.operators import Credentials
from paywire.store.tx import Db, connection, transaction

# Attempts rather than failures: each is counted before its password is checked, and a login
# that succeeds clears them, so the count is the failures plus any still being checked.
LOCKOUT_ATTEMPTS = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
# The alphabet of `secrets.token_urlsafe`, which makes every token (URL-safe base64, unpadded).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+")


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
    with reserved():
        name = normalise_username(username)
        if username_problem(name) is not None:
            # No operator can have this name: nothing to count or lock, but take as long as a check.
            await verify_password(DUMMY_HASH, password)
            raise AuthenticationError("invalid user name or password")
        counter = attempts or PostgresAttempts(db, LOCKOUT_WINDOW)
        now = datetime.now(UTC)
        found = await _attempt(db, name, password, counter, now, request_id)
        if found is None:
            raise AuthenticationError("invalid user name or password")
        stored_hash = found.password_hash
        token = secrets.token_urlsafe(32)
        expires_at = now + timedelta(seconds=token_ttl_s)
        rehashed = await rehash(stored_hash, password, hasher)
    async with transaction(db) as conn:
        # While argon2 checked the password, an admin may have changed it or deactivated the
        # operator, and ended their sessions: a session (or a re-hash of the old password) is
        # only for credentials that are still the operator's. The row lock orders this against
        # `update_operator`, which then ends this session too.
        current = await store.credentials(conn, name, lock=True)
        if current is None or current.password_hash != stored_hash or not current.operator.active:
            raise AuthenticationError("invalid user name or password")
        operator = current.operator
        await store.insert_session(conn, token_digest(token), operator.id, now, expires_at)
        if rehashed is not None:
            await store.update(conn, operator.id, password_hash=rehashed)
        await audit.append(
            conn, [operator_entry(operator, "auth.login", operator, request_id)], now
        )
    await counter.forgive(name, now)
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
            await audit.append(
                conn, [operator_entry(operator, "auth.logout", operator, request_id)], now
            )
    if cache is not None:
        await cache.forget_token(digest)


async def change_password(
    db: Db,
    operator: Operator,
    current_password: object,
    new_password: object,
    *,
    request_id: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
    attempts: AttemptCounter | None = None,
    cache: SessionCache | None = None,
) -> None:
    """Replace the operator's own password, given the current one. Every session of theirs
    ends, this one too: they sign in again with the new password, as anyone who knew the old
    one would have to. A wrong current password counts as a failed login (five lock the name),
    so a session left open cannot be used to guess the password behind it."""
    problems = Problems()
    if not isinstance(current_password, str):
        problems.add("current_password", "must be a string")
    if not isinstance(new_password, str):
        problems.add("new_password", "must be a string")
    else:
        problem = password_problem(new_password, operator.username)
        if problem is None and new_password == current_password:
            problem = "must differ from the current password"
        if problem is not None:
            problems.add("new_password", problem)
    problems.raise_any("invalid password change")
    assert isinstance(current_password, str)
    assert isinstance(new_password, str)
    name = operator.username
    counter = attempts or PostgresAttempts(db, LOCKOUT_WINDOW)
    now = datetime.now(UTC)
    with reserved():
        found = await _attempt(db, name, current_password, counter, now, request_id)
        if found is None:
            wrong = {
                "field": "current_password",
                "message": "is not the operator's current password",
            }
            raise ValidationError("invalid password change", details=[wrong])
        new_hash = await hash_password(new_password, hasher)
    stored_hash = found.password_hash
    async with transaction(db) as conn:
        current = await store.credentials(conn, name, lock=True)
        if current is None or not current.operator.active:
            raise AuthenticationError("the operator was deactivated meanwhile")
        if current.password_hash != stored_hash:
            raise Conflict("the password was changed meanwhile: sign in again")
        changed = await store.update(
            conn, operator.id, password_hash=new_hash, password_change_required=False
        )
        assert changed is not None
        await store.revoke_all_sessions(conn, operator.id, now)
        await audit.append(
            conn, [operator_entry(operator, "auth.password_change", changed, request_id)], now
        )
    # Sessions first: whatever happens to the count after, none cached outlives the change.
    if cache is not None:
        await cache.forget_operator(operator.id)
    await counter.forgive(name, now)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _attempt(
    db: Db,
    name: str,
    password: str,
    counter: AttemptCounter,
    now: datetime,
    request_id: str | None,
) -> Credentials | None:
    """One attempt at `name`'s password: refused (Throttled) while the name is locked, counted
    before it is checked, so concurrent guesses cannot slip past the limit while the first ones
    are being verified; the operator and their hash when it is right and the operator
    active. A wrong one at the limit locks the name."""
    async with connection(db) as conn:
        until = await store.locked_until(conn, name, now)
    if until is not None:
        raise _locked(until)
    counted = await counter.count(name, now)
    if counted > LOCKOUT_ATTEMPTS:
        # More attempts than allowed are under way at once: none of them gets a guess.
        await _lock(db, name, now, request_id)
    async with connection(db) as conn:
        found = await store.credentials(conn, name)
    valid = await verify_password(found.password_hash if found else DUMMY_HASH, password)
    if found is None or not valid or not found.operator.active:
        if counted >= LOCKOUT_ATTEMPTS:
            await _lock(db, name, now, request_id)
        return None
    return found


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
