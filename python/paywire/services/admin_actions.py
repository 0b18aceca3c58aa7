"""ADMIN actions outside the payment flow that must leave an audit record.

The manual circuit-breaker reset: the breaker lives in the transport, its record in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.roles import Actor, Role, require_role
from paywire.store import audit
from paywire.store.tx import Db, transaction

CLOSED = "CLOSED"  # what `reset` leaves the breaker in, recorded before it runs


async def reset_circuit_breaker(
    db: Db,
    actor: Actor,
    state: Callable[[], Enum],
    reset: Callable[[], None],
    *,
    request_id: str | None = None,
) -> tuple[str, str]:
    """Close the breaker with `reset` once its audit record is committed; returns the state
    before and after. Recorded first: a reset the log cannot hold must not happen, and once
    done it cannot be taken back (with shared state it reaches every process at once)."""
    require_role(actor, Role.ADMIN)
    before = state().name
    entry = AuditEntry(
        operator=actor.username,
        action="tls.circuit_breaker.reset",
        entity="circuit_breaker",
        entity_id="tls",
        before={"state": before},
        after={"state": CLOSED},
        request_id=request_id,
    )
    async with transaction(db) as conn:
        await audit.append(conn, [entry])
    reset()
    return before, state().name
