"""Payment statuses and the allowed transitions, as data: from, to, and who may take each; and
the operators' actions, each bound to the one transition it takes.

migrations/0003_payments.up.sql holds the same (from, to) pairs, so the database refuses the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from paywire.domain.roles import Actor, Role
from paywire.errors import Conflict, PermissionDenied


class Status(StrEnum):
    INITIATED = "INITIATED"
    APPROVED = "APPROVED"
    SCREENED = "SCREENED"
    HELD = "HELD"
    POSTED = "POSTED"
    TRANSMITTED = "TRANSMITTED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


FINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.REJECTED, Status.FAILED})


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed change of status and who may make it.

    `roles` may make it on any payment, `initiator_roles` only on payments they created; with
    neither, only the gateway (`SYSTEM`) makes it. `four_eyes` bars the payment's initiator,
    `not_the_approver` its approver: a compliance decision on a screening hit is a control of
    its own, so neither of the two who let the payment through may clear it.
    """

    source: Status
    target: Status
    roles: frozenset[Role] = frozenset()
    initiator_roles: frozenset[Role] = frozenset()
    four_eyes: bool = False
    not_the_approver: bool = False

    @property
    def system_only(self) -> bool:
        return not (self.roles or self.initiator_roles)


def _t(
    source: Status,
    target: Status,
    roles: tuple[Role, ...] = (),
    *,
    initiator_roles: tuple[Role, ...] = (),
    four_eyes: bool = False,
    not_the_approver: bool = False,
) -> Transition:
    return Transition(
        source, target, frozenset(roles), frozenset(initiator_roles), four_eyes, not_the_approver
    )


S, R = Status, Role
TRANSITIONS: tuple[Transition, ...] = (
    _t(S.INITIATED, S.APPROVED, (R.CHECKER,), four_eyes=True),
    _t(S.INITIATED, S.REJECTED, (R.CHECKER,)),
    _t(S.INITIATED, S.CANCELLED, (R.ADMIN,), initiator_roles=(R.MAKER,)),
    _t(S.APPROVED, S.SCREENED),
    _t(S.APPROVED, S.HELD),
    _t(S.HELD, S.SCREENED, (R.COMPLIANCE,), four_eyes=True, not_the_approver=True),
    _t(S.HELD, S.REJECTED, (R.COMPLIANCE,), four_eyes=True, not_the_approver=True),
    _t(S.SCREENED, S.POSTED),
    _t(S.SCREENED, S.REJECTED),  # insufficient funds; terms that stopped holding since approval
    _t(S.POSTED, S.TRANSMITTED),
    _t(S.TRANSMITTED, S.COMPLETED),  # ACK
    _t(S.TRANSMITTED, S.FAILED),  # NACK
)
_BY_PAIR = MappingProxyType({(t.source, t.target): t for t in TRANSITIONS})


class Action(StrEnum):
    """What an operator asks for through an endpoint."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    RELEASE = "release"
    COMPLIANCE_REJECT = "compliance reject"


# Each action takes one transition, so it applies to payments in one status only. A target is
# reached from several statuses by different people for different reasons (REJECTED: a checker's
# refusal of an INITIATED payment, compliance's of a HELD one, the gateway's for lack of funds),
# and an action must not take whichever of them the payment's status happens to allow.
ACTION_STEPS: Mapping[Action, Transition] = MappingProxyType(
    {
        Action.APPROVE: _BY_PAIR[S.INITIATED, S.APPROVED],
        Action.REJECT: _BY_PAIR[S.INITIATED, S.REJECTED],
        Action.CANCEL: _BY_PAIR[S.INITIATED, S.CANCELLED],
        Action.RELEASE: _BY_PAIR[S.HELD, S.SCREENED],
        Action.COMPLIANCE_REJECT: _BY_PAIR[S.HELD, S.REJECTED],
    }
)


def transition(source: Status, target: Status) -> Transition | None:
    """None for a change no rule allows. The pairs are also migration 0003's
    `payment_transitions`, whose trigger refuses any other change in the database itself
    (tests/store/test_rules.py keeps the two equal)."""
    return _BY_PAIR.get((source, target))


def authorize(
    source: Status, target: Status, actor: Actor, created_by: str, approved_by: str | None = None
) -> Transition:
    """The transition, once `actor` may take it on a payment created by `created_by` and
    approved by `approved_by`.

    Conflict when the payment's status does not allow it; PermissionDenied when the actor may not.
    """
    found = transition(source, target)
    if found is None:
        raise Conflict(f"the payment is {source}; it cannot become {target}")
    if found.system_only:
        if not actor.is_system:
            raise PermissionDenied(f"{source} -> {target} is made by the gateway only")
    elif not (
        actor.has(*found.roles)
        or (actor.username == created_by and actor.has(*found.initiator_roles))
    ):
        raise PermissionDenied(f"{source} -> {target} needs {_who(found)}")
    if found.four_eyes and actor.username == created_by:
        raise PermissionDenied(f"four eyes: the initiator of a payment may not make it {target}")
    if found.not_the_approver and actor.username == approved_by:
        raise PermissionDenied(f"four eyes: the approver of a payment may not make it {target}")
    return found


def refuse_own(actor: Actor, created_by: str, approved_by: str | None, doing: str) -> None:
    """Four eyes past approval: what follows a payment's fate (resolving its exceptions,
    retrying it) is for neither its initiator nor its approver, whatever their roles."""
    if actor.username in (created_by, approved_by):
        raise PermissionDenied(
            f"four eyes: the initiator or approver of a payment may not {doing}; another ADMIN must"
        )


def authorize_action(
    action: Action,
    status: Status,
    actor: Actor,
    created_by: str,
    approved_by: str | None = None,
) -> Transition:
    """The transition `action` takes, once the payment is in the status the action applies to
    and `actor` may take it (see `authorize`).

    Conflict in any other status, even one from which the action's target can be reached: that
    step is someone else's decision (or the gateway's), not this action.
    """
    step = ACTION_STEPS[action]
    if status is not step.source:
        raise Conflict(
            f"the payment is {status}; {action} applies to {step.source} payments only, so "
            "nothing was changed: read the payment to see what it waits for",
            details=[{"status": status.value, "applies_to": step.source.value}],
        )
    return authorize(step.source, step.target, actor, created_by, approved_by)


def _who(found: Transition) -> str:
    who = [f"the role {role}" for role in sorted(found.roles)]
    who += [f"the role {role} on one's own payment" for role in sorted(found.initiator_roles)]
    return " or ".join(who)
