"""The one path every payment status change takes: authorise, update, record history, audit.

Batches of any size are one UPDATE (with its history) and one audit append.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.payment import Payment, Reason
from paywire.domain.roles import Actor
from paywire.domain.statuses import ACTION_STEPS, Action, Status, authorize, authorize_action
from paywire.errors import Conflict
from paywire.store import audit
from paywire.store import payments as store
from paywire.store.tx import Conn

# The audit action of entering each status; a caller may name a more precise one.
ACTIONS = {
    Status.APPROVED: "payment.approve",
    Status.REJECTED: "payment.reject",
    Status.CANCELLED: "payment.cancel",
    Status.SCREENED: "payment.screen",
    Status.HELD: "payment.hold",
    Status.POSTED: "payment.post",
    Status.TRANSMITTED: "payment.transmit",
    Status.COMPLETED: "payment.complete",
    Status.FAILED: "payment.fail",
}


@dataclass(frozen=True, slots=True)
class Move:
    """Take `payment` (as locked by the caller) to `target`, for `reason`; `action` is what an
    operator asked for, None for the gateway's own steps. Made with `asked` when it has one,
    so that its target is the action's."""

    payment: Payment
    target: Status
    reason: Reason | None = None
    action: Action | None = None


def asked(payment: Payment, action: Action, reason: Reason | None = None) -> Move:
    """The move an operator's action makes: allowed only from the status the action applies to."""
    return Move(payment, ACTION_STEPS[action].target, reason, action)


@dataclass(frozen=True, slots=True)
class Moved:
    """What `move` did. The pipeline moves thousands of payments a second and never looks at
    them again, so the payments as they are now are derived only for a caller that asks."""

    moves: Sequence[Move]
    at: datetime
    by: str

    def payments(self) -> list[Payment]:
        return [m.payment.entered(m.target, m.reason, self.at, self.by) for m in self.moves]


async def move(
    conn: Conn,
    moves: Sequence[Move],
    actor: Actor,
    *,
    action: str | None = None,
    request_id: str | None = None,
    journal: audit.Journal | None = None,
) -> Moved:
    """Apply `moves` in the caller's transaction, the payments being locked by it. Conflict or
    PermissionDenied refuse the whole batch. The audit rows are appended now, or left in
    `journal` for the caller to write at the end of its transaction."""
    at = datetime.now(UTC)
    if not moves:
        return Moved(moves, at, actor.username)
    for m in moves:
        p = m.payment
        if m.action is None:
            authorize(p.status, m.target, actor, p.created_by, p.approved_by)
        else:
            authorize_action(m.action, p.status, actor, p.created_by, p.approved_by)
    changes = [
        store.StatusChange(m.payment.id, m.payment.status, m.target, m.reason) for m in moves
    ]
    moved = await store.apply(conn, changes, actor.username, at)
    if len(moved) != len(moves):
        # Only reachable when a caller did not lock the payments it moves.
        raise Conflict("a payment changed while it was being moved; nothing was changed")
    entries = [
        AuditEntry(
            operator=actor.username,
            action=action or ACTIONS[m.target],
            entity="payment",
            entity_id=str(m.payment.id),
            before={"status": m.payment.status.value},
            after={
                "status": m.target.value,
                "reason": m.reason.as_dict() if m.reason else None,
            },
            request_id=request_id,
        )
        for m in moves
    ]
    if journal is None:
        await audit.append(conn, entries, at)
    else:
        journal.add(entries, at)
    return Moved(moves, at, actor.username)
