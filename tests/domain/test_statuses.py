"""Statuses and transitions as data: every pair, every role rule, four eyes."""

from __future__ import annotations

import itertools

import pytest

from paywire.domain.roles import SYSTEM_ACTOR, Actor, Role, parse_roles
from paywire.domain.statuses import (
    ACTION_STEPS,
    FINAL,
    TRANSITIONS,
    Action,
    Status,
    Transition,
    authorize,
    authorize_action,
    transition,
)
from paywire.errors import Conflict, PermissionDenied

ALLOWED = {(t.source, t.target) for t in TRANSITIONS}


def actor(name: str, *roles: Role) -> Actor:
    return Actor(name, frozenset(roles))


def test_the_happy_path_and_side_exits_are_allowed() -> None:
    path = ["INITIATED", "APPROVED", "SCREENED", "POSTED", "TRANSMITTED", "COMPLETED"]
    assert {(Status(a), Status(b)) for a, b in itertools.pairwise(path)} <= ALLOWED
    assert (Status.HELD, Status.SCREENED) in ALLOWED
    assert (Status.TRANSMITTED, Status.FAILED) in ALLOWED


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, t in itertools.product(Status, Status) if (s, t) not in ALLOWED],
)
def test_every_other_pair_is_a_conflict_even_for_the_gateway(
    source: Status, target: Status
) -> None:
    assert transition(source, target) is None
    everyone = actor("root", *Role)
    for who in (everyone, SYSTEM_ACTOR):
        with pytest.raises(Conflict):
            authorize(source, target, who, created_by="someone")


def test_final_statuses_have_no_way_out() -> None:
    assert not [t for t in TRANSITIONS if t.source in FINAL]


def test_approval_needs_a_checker_who_did_not_create_it() -> None:
    checker = actor("carol", Role.CHECKER)
    assert authorize(Status.INITIATED, Status.APPROVED, checker, created_by="mallory")
    with pytest.raises(PermissionDenied, match="four eyes"):
        authorize(Status.INITIATED, Status.APPROVED, actor("carol", *Role), created_by="carol")
    with pytest.raises(PermissionDenied, match="CHECKER"):
        authorize(Status.INITIATED, Status.APPROVED, actor("mia", Role.MAKER), created_by="x")


def test_cancel_is_for_the_own_maker_or_an_admin() -> None:
    maker = actor("mia", Role.MAKER)
    assert authorize(Status.INITIATED, Status.CANCELLED, maker, created_by="mia")
    assert authorize(Status.INITIATED, Status.CANCELLED, actor("ada", Role.ADMIN), created_by="mia")
    with pytest.raises(PermissionDenied):
        authorize(Status.INITIATED, Status.CANCELLED, maker, created_by="max")
    with pytest.raises(PermissionDenied):
        authorize(Status.INITIATED, Status.CANCELLED, actor("mia", Role.CHECKER), created_by="mia")


def test_compliance_decides_on_held_payments_only() -> None:
    officer = actor("cora", Role.COMPLIANCE)
    assert authorize(Status.HELD, Status.SCREENED, officer, created_by="mia")
    assert authorize(Status.HELD, Status.REJECTED, officer, created_by="mia")
    with pytest.raises(PermissionDenied):
        authorize(Status.HELD, Status.SCREENED, actor("carol", Role.CHECKER), created_by="mia")


@pytest.mark.parametrize("decision", [Status.SCREENED, Status.REJECTED])
def test_neither_initiator_nor_approver_decides_on_a_screening_hit(decision: Status) -> None:
    officer = actor("cora", *Role)
    assert authorize(Status.HELD, decision, officer, created_by="mia", approved_by="carol")
    with pytest.raises(PermissionDenied, match="four eyes: the initiator"):
        authorize(Status.HELD, decision, officer, created_by="cora", approved_by="carol")
    with pytest.raises(PermissionDenied, match="four eyes: the approver"):
        authorize(Status.HELD, decision, officer, created_by="mia", approved_by="cora")


@pytest.mark.parametrize("step", [t for t in TRANSITIONS if t.system_only], ids=str)
def test_pipeline_steps_are_the_gateways_alone(step: Transition) -> None:
    assert authorize(step.source, step.target, SYSTEM_ACTOR, created_by="mia")
    with pytest.raises(PermissionDenied):
        authorize(step.source, step.target, actor("root", *Role), created_by="mia")


def test_every_step_an_operator_may_take_is_one_actions_and_no_other() -> None:
    operators_steps = [t for t in TRANSITIONS if not t.system_only]
    assert sorted(ACTION_STEPS.values(), key=str) == sorted(operators_steps, key=str)


@pytest.mark.parametrize("action", Action)
def test_an_action_applies_to_its_own_status_only_whoever_asks(action: Action) -> None:
    """REJECTED is reached from INITIATED, HELD and SCREENED: only one of them is each action's."""
    everyone = actor("root", *Role)
    step = ACTION_STEPS[action]
    assert authorize_action(action, step.source, everyone, created_by="mia") is step
    for status in set(Status) - {step.source}:
        with pytest.raises(Conflict, match=f"{step.source} payments only"):
            authorize_action(action, status, everyone, created_by="mia")


def test_roles_parse_strictly() -> None:
    assert parse_roles(["MAKER", "CHECKER", "MAKER"]) == {Role.MAKER, Role.CHECKER}
    with pytest.raises(ValueError, match="not a role"):
        parse_roles(["maker"])
    with pytest.raises(ValueError, match="at least one"):
        parse_roles([])
