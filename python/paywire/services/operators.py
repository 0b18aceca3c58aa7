"""Operators and their management by an ADMIN: create, change, list; every change audited.

Passwords are hashed by `paywire.services.passwords`; sessions are `paywire.services.auth`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from argon2 import PasswordHasher

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.credentials import normalise_username, password_problem, username_problem
from paywire.domain.operators import Operator
from paywire.domain.roles import Actor, Role, parse_roles, require_role
from paywire.domain.validation import Problems
from paywire.errors import Conflict, NotFound, PermissionDenied
from paywire.services.auth_state import SessionCache
from paywire.services.passwords import DEFAULT_HASHER, hash_password
from paywire.store import audit
from paywire.store import operators as store
from paywire.store.tx import Conn, Db, connection, transaction


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
    """A new active operator (ADMIN); Conflict when the user name is taken. The ADMIN chose its
    password, so the operator must choose their own at their first sign-in."""
    require_role(actor, Role.ADMIN)
    name, secret, role_set = check_operator(username, password, roles)
    password_hash = await hash_password(secret, hasher)
    async with transaction(db) as conn:
        await _still_admin(conn, actor)
        operator = await store.insert(
            conn, name, password_hash, role_set, password_change_required=True
        )
        await audit.append(conn, [operator_entry(actor, "operator.create", operator, request_id)])
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
    operator's sessions. A password set here must be replaced by the operator's own at their
    next sign-in (one the ADMIN knows must not stay theirs). Any change drops the operator's
    cached sessions, so new roles count from the next request on. An ADMIN cannot demote or
    deactivate themselves, nor set their own password here (Conflict)."""
    require_role(actor, Role.ADMIN)
    async with connection(db) as conn:
        current = await store.get(conn, operator_id)
    if current is None:
        raise NotFound(f"no operator {operator_id}")
    if current.username == actor.username:
        _refuse_own_password(password)
        _refuse_self_lockout(roles, active)
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
        await _still_admin(conn, actor)
        before = await store.get(conn, operator_id, lock=True)
        after = await store.update(
            conn,
            operator_id,
            password_hash=new_hash,
            roles=role_set,
            active=active if isinstance(active, bool) else None,
            password_change_required=True if new_hash is not None else None,
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


async def _still_admin(conn: Conn, actor: Actor) -> None:
    """The actor's ADMIN role as it is now, not as the request found it: two ADMINs who demote
    or deactivate each other at once would otherwise both succeed and leave none, and an ADMIN
    demoted while a request was under way could still create an ADMIN account for themselves.
    Every active ADMIN's row stays locked to the end of the transaction."""
    if actor.username not in await store.lock_active_admins(conn):
        raise PermissionDenied("you are no longer an active ADMIN; nothing was changed")


def _refuse_own_password(password: object) -> None:
    """An ADMIN's own password is changed as anyone's is, with the current one: a session of
    theirs left open must not be enough to take the account over."""
    if password is not None:
        raise Conflict(
            "your own password is changed with POST /api/v1/auth/password (passwd in the"
            " terminal), which asks for the current one"
        )


def _refuse_self_lockout(roles: object, active: object) -> None:
    """An ADMIN's change to themselves that would take away their ADMIN role or deactivate
    them, refused: the gateway must not lose its last administrator through a slip of the
    keyboard. Another ADMIN may make that change."""
    if active is False:
        raise Conflict("an admin cannot deactivate themselves; ask another admin")
    if isinstance(roles, list | tuple) and Role.ADMIN not in roles:
        raise Conflict("an admin cannot remove their own ADMIN role; ask another admin")


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


def _roles(roles: object, problems: Problems) -> frozenset[Role] | None:
    if not isinstance(roles, list | tuple):
        problems.add("roles", "must be a list of roles")
        return None
    try:
        return parse_roles(roles)
    except ValueError as exc:
        problems.add("roles", str(exc))
        return None


def operator_entry(
    actor: Actor, action: str, operator: Operator, request_id: str | None
) -> AuditEntry:
    """The audit row of something done to (or by) an operator."""
    return AuditEntry(
        operator=actor.username,
        action=action,
        entity="operator",
        entity_id=str(operator.id),
        after=operator.audited(),
        request_id=request_id,
    )
