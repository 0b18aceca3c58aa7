"""SQL for operators, their sessions (hashed bearer tokens) and the login throttle.

Passwords and tokens never reach this module in clear: it sees argon2 and SHA-256 hashes only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

import asyncpg

from paywire.domain.operators import Operator
from paywire.domain.roles import Role
from paywire.errors import Conflict
from paywire.store.tx import Conn, Record, qualified

_COLUMNS = "id, username, roles, active, created_at, updated_at, password_change_required"


def to_operator(row: Record) -> Operator:
    """The operator of a row with `_COLUMNS`: the driver gives the id and times as UUID and
    datetime already, where `Operator.from_dict` parses them from `as_dict`'s strings."""
    return Operator(
        username=row["username"],
        roles=frozenset(Role(r) for r in row["roles"]),
        id=row["id"],
        active=row["active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        password_change_required=row["password_change_required"],
    )


async def insert(
    conn: Conn,
    username: str,
    password_hash: str,
    roles: Iterable[Role],
    *,
    password_change_required: bool = False,
    seeded_password_hash: str | None = None,
) -> Operator:
    """A new active operator; Conflict when the user name is taken."""
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO operators (username, password_hash, roles, password_change_required,
                                   seeded_password_hash)
            VALUES ($1, $2, $3, $4, $5)
            RETURNING {_COLUMNS}
            """,
            username,
            password_hash,
            sorted(roles),
            password_change_required,
            seeded_password_hash,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"an operator {username} exists already") from None
    assert row is not None
    return to_operator(row)


async def update(
    conn: Conn,
    operator_id: UUID,
    *,
    password_hash: str | None = None,
    roles: Iterable[Role] | None = None,
    active: bool | None = None,
    password_change_required: bool | None = None,
    seeded_password_hash: str | None = None,
) -> Operator | None:
    """Change what is given, leave the rest; None when there is no such operator."""
    row = await conn.fetchrow(
        f"""
        UPDATE operators SET password_hash = coalesce($2, password_hash),
                             roles = coalesce($3, roles),
                             active = coalesce($4, active),
                             password_change_required = coalesce($5, password_change_required),
                             seeded_password_hash = coalesce($6, seeded_password_hash),
                             updated_at = now()
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        operator_id,
        password_hash,
        sorted(roles) if roles is not None else None,
        active,
        password_change_required,
        seeded_password_hash,
    )
    return to_operator(row) if row else None


async def get(conn: Conn, operator_id: UUID, *, lock: bool = False) -> Operator | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM operators WHERE id = $1{suffix}", operator_id
    )
    return to_operator(row) if row else None


async def prune_sign_in_records(conn: Conn, ended_before: datetime) -> tuple[int, int]:
    """Remove the sessions that expired or were revoked before `ended_before`, and the login
    throttle rows of names neither locked nor tried since; returns how many of each. Both
    tables otherwise grow with every token issued and every name ever tried, for good."""
    sessions = await conn.fetchval(
        "WITH gone AS (DELETE FROM sessions WHERE least(expires_at, revoked_at) < $1"
        " RETURNING 1) SELECT count(*) FROM gone",
        ended_before,
    )
    throttles = await conn.fetchval(
        "WITH gone AS (DELETE FROM login_throttle"
        " WHERE coalesce(locked_until, '-infinity') < $1"
        " AND coalesce((SELECT max(f) FROM unnest(failures) AS f), '-infinity') < $1"
        " RETURNING 1) SELECT count(*) FROM gone",
        ended_before,
    )
    return sessions, throttles


async def lock_active_admins(conn: Conn) -> set[str]:
    """The user names of the active ADMINs, locked in id order until the transaction ends:
    operator changes take these locks first, so two ADMINs changing each other wait one for
    the other. NO KEY: what only refers to an ADMIN (a login's session, a payment they enter)
    does not wait."""
    rows = await conn.fetch(
        "SELECT username FROM operators WHERE active AND 'ADMIN' = ANY (roles)"
        " ORDER BY id FOR NO KEY UPDATE"
    )
    return {row["username"] for row in rows}


async def all_operators(conn: Conn) -> list[Operator]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM operators ORDER BY username")
    return [to_operator(row) for row in rows]


async def usernames_except(conn: Conn, excluded: Iterable[str], *, limit: int) -> list[str]:
    """The first `limit` user names, in order, that are not among `excluded`; none in a database
    not yet migrated, which has no operators table."""
    if await conn.fetchval("SELECT to_regclass('operators')") is None:
        return []
    rows = await conn.fetch(
        "SELECT username FROM operators WHERE username <> ALL($1::text[])"
        " ORDER BY username LIMIT $2",
        list(excluded),
        limit,
    )
    return [row["username"] for row in rows]


class Credentials(NamedTuple):
    operator: Operator
    password_hash: str
    # The hash of the password a seed file last set for the operator, if one did.
    seeded_password_hash: str | None


async def credentials(conn: Conn, username: str, *, lock: bool = False) -> Credentials | None:
    """The operator of `username` and its password hashes; `lock` holds the row until commit."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, password_hash, seeded_password_hash FROM operators"
        " WHERE username = $1" + (" FOR UPDATE" if lock else ""),
        username,
    )
    if row is None:
        return None
    return Credentials(to_operator(row), row["password_hash"], row["seeded_password_hash"])


async def adopt_seeded_password(conn: Conn, operator_id: UUID, password_hash: str) -> None:
    """Remember the operator's current password as a seed file's, unless a file set one or the
    password changed meanwhile: bookkeeping, not a change of the operator."""
    await conn.execute(
        "UPDATE operators SET seeded_password_hash = $2"
        " WHERE id = $1 AND seeded_password_hash IS NULL AND password_hash = $2",
        operator_id,
        password_hash,
    )


async def locked_until(conn: Conn, username: str, now: datetime) -> datetime | None:
    """When the lock on `username` ends, if it is locked at `now`."""
    until: datetime | None = await conn.fetchval(
        "SELECT locked_until FROM login_throttle WHERE username = $1 AND locked_until > $2",
        username,
        now,
    )
    return until


# What `count_attempt` returns for a name locked meanwhile: more than any limit.
OVER_ANY_LIMIT = 2**31 - 1


async def count_attempt(conn: Conn, username: str, now: datetime, *, window: timedelta) -> int:
    """Count a login attempt for `username` before its password is checked, and return how many
    fall within `window` up to `now`, this one included; `OVER_ANY_LIMIT` when the name is
    locked at `now`. Counting first, in one atomic statement, is what stops concurrent guesses
    from all passing the lockout check while the first ones are still being verified."""
    count: int = await conn.fetchval(
        """
        INSERT INTO login_throttle AS t (username, failures) VALUES ($1, ARRAY[$2::timestamptz])
        ON CONFLICT (username) DO UPDATE SET failures = CASE
            WHEN t.locked_until > $2 THEN t.failures
            ELSE ARRAY(
                SELECT f FROM unnest(t.failures || $2::timestamptz) AS f WHERE f > $2 - $3::interval
            )
        END
        RETURNING CASE WHEN locked_until > $2 THEN $4 ELSE cardinality(failures) END
        """,
        username,
        now,
        window,
        OVER_ANY_LIMIT,
    )
    return count


async def recent_attempts(conn: Conn, username: str, now: datetime, *, window: timedelta) -> int:
    """The attempts `count_attempt` counted for `username` within `window` up to `now`, without
    counting one more."""
    count: int | None = await conn.fetchval(
        """
        SELECT cardinality(ARRAY(
            SELECT f FROM unnest(failures) AS f WHERE f > $2::timestamptz - $3::interval
        ))
        FROM login_throttle WHERE username = $1
        """,
        username,
        now,
        window,
    )
    return count or 0


async def lock(conn: Conn, username: str, now: datetime, until: datetime) -> datetime | None:
    """Lock `username` until `until` and start counting afresh, unless it is locked at `now`
    already: then the end of that lock."""
    current: datetime | None = await conn.fetchval(
        "SELECT locked_until FROM login_throttle WHERE username = $1 FOR UPDATE", username
    )
    if current is not None and current > now:
        return current
    await conn.execute(
        """
        INSERT INTO login_throttle (username, locked_until) VALUES ($1, $2)
        ON CONFLICT (username) DO UPDATE SET failures = '{}', locked_until = $2
        """,
        username,
        until,
    )
    return None


async def forgive_attempt(conn: Conn, username: str, at: datetime) -> None:
    """Remove the attempt `count_attempt` counted for `username` at `at`, if it is still there
    (a lock set meanwhile started the count afresh); the others stay."""
    await conn.execute(
        """
        UPDATE login_throttle
        SET failures = failures[:array_position(failures, $2) - 1]
                       || failures[array_position(failures, $2) + 1:]
        WHERE username = $1 AND $2 = ANY(failures)
        """,
        username,
        at,
    )


async def insert_session(
    conn: Conn, token_hash: bytes, operator_id: UUID, created_at: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sessions (token_hash, operator_id, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4)",
        token_hash,
        operator_id,
        created_at,
        expires_at,
    )


async def session_operator(
    conn: Conn, token_hash: bytes, now: datetime
) -> tuple[Operator, datetime] | None:
    """The active operator of a session that is neither expired nor revoked, and when the
    session expires."""
    row = await conn.fetchrow(
        f"""
        SELECT {qualified(_COLUMNS, "o")}, s.expires_at
        FROM sessions s JOIN operators o ON o.id = s.operator_id
        WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND o.active
        """,
        token_hash,
        now,
    )
    return (to_operator(row), row["expires_at"]) if row else None


async def revoke_session(conn: Conn, token_hash: bytes, now: datetime) -> UUID | None:
    """Revoke a live session; returns its operator's id, or None if there was none to revoke."""
    operator_id: UUID | None = await conn.fetchval(
        "UPDATE sessions SET revoked_at = $2"
        " WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING operator_id",
        token_hash,
        now,
    )
    return operator_id


async def revoke_all_sessions(conn: Conn, operator_id: UUID, now: datetime) -> None:
    """The operator's sessions still usable, revoked; expired ones are left to the retention
    run's prune (revoking them changes nothing, and would take their rows' locks from it)."""
    await conn.execute(
        "UPDATE sessions SET revoked_at = $2"
        " WHERE operator_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        operator_id,
        now,
    )


async def session_cache_key(conn: Conn) -> bytes:
    """The key that signs cached sessions (migration 0015); Redis never holds it."""
    key: bytes = await conn.fetchval("SELECT secret FROM session_cache_key")
    return key
