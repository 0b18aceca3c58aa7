"""Stateful property-based run: schemathesis follows the OpenAPI document's links (create a
payment, then get, approve, reject, cancel it; list operators, then change one …) with each
operation called by an operator holding its role. No answer may be a 5xx or stray from the
document, and every protected operation must refuse the same request without its token."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import ensure_resource_availability, ignored_auth

from paywire.domain.operators import Operator
from paywire.store.tx import Pool
from tests.api.world import OPERATORS, open_session, seed
from tests.fixtures.live import LiveServer, live_gateway
from tests.fixtures.world import payment_body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ensure_resource_availability,
    ignored_auth,
]
# Who calls an operation: the first of its `x-roles` in this order; any operator: the maker.
CALLER_BY_ROLE = {
    "MAKER": "maker",
    "CHECKER": "checker",
    "COMPLIANCE": "compliance",
    "ADMIN": "admin",
    "AUDITOR": "auditor",
}
LOGOUT = "POST /api/v1/auth/logout"
CREATE = "POST /api/v1/payments"
# Per suite: scenarios of up to STEPS calls; suites, each with a seed of its own, run until
# STEPS_WANTED calls were answered and the links to a payment followed, at most SUITES of them
# (a count, not a time budget, so a slow machine runs the same calls as a fast one).
SCENARIOS = 30
STEPS = 8
STEPS_WANTED = 400
SUITES = 40
ACTIONS = {
    "POST /api/v1/payments/{id}/approve",
    "POST /api/v1/payments/{id}/reject",
    "POST /api/v1/payments/{id}/cancel",
}


class Gateway:
    """The live gateway and, per scenario, its operators restored and freshly signed in (a
    scenario may change roles, passwords or the active flag of anyone, the admin included)."""

    def __init__(self, server: LiveServer, pool: Pool, operators: dict[str, Operator]) -> None:
        self.server = server
        self.pool = pool
        self.operators = operators
        self.tokens: dict[str, str] = {}

    def restore(self) -> None:
        self.tokens = self.server.run(self._restore())

    async def _restore(self) -> dict[str, str]:
        for name, operator in self.operators.items():
            await self.pool.execute(
                "UPDATE operators SET roles = $2, active = true, password_change_required = false"
                " WHERE id = $1",
                operator.id,
                sorted(OPERATORS[name]),
            )
        return {name: await open_session(self.pool, op) for name, op in self.operators.items()}

    def token_for(self, case: schemathesis.Case) -> str:
        if case.operation.label == LOGOUT:  # its own session: logging out ends only that one
            return self.server.run(open_session(self.pool, self.operators["everything"]))
        roles = case.operation.definition.raw.get("x-roles", [])
        caller = next((CALLER_BY_ROLE[r] for r in CALLER_BY_ROLE if r in roles), "maker")
        return self.tokens[caller]


@pytest.fixture(scope="module")
def gateway(
    postgres, migrated_template, gateway_login, tls_files, tmp_path_factory
) -> Iterator[Gateway]:
    """The admin surface with a running pipeline and a TLS pool whose receiver never answers,
    as `paywire serve` assembles them (approved payments move on, then wait on the breaker)."""
    log_dir = tmp_path_factory.mktemp("logs")
    with live_gateway(
        postgres, migrated_template, gateway_login, tls_files, log_dir, with_pipeline=True
    ) as live:
        operators = live.server.run(seed(live.pool))
        yield Gateway(live.server, live.pool, operators)


def test_linked_operations_conform_to_the_document(gateway: Gateway) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway.server.url}/api-docs/openapi.json")
    answered: Counter[tuple[str, int]] = Counter()
    failures: list[BaseException] = []

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            gateway.restore()

        def before_call(self, case: schemathesis.Case) -> None:
            # Random bodies almost never hold a valid IBAN of a ledger account, and the
            # stateless run fuzzes this body already: here entries succeed, so that the links
            # from a created payment lead to a payment.
            if case.operation.label == CREATE:
                case.body = payment_body()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {gateway.token_for(case)}"}}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered[(case.operation.label, response.status_code)] += 1

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))
            except BaseException as failure:
                failures.append(failure)  # kept even if Hypothesis cannot replay it
                raise

    def followed() -> set[str]:
        """The operations on an id that a link reached and that answered 200."""
        return {label for (label, status) in answered if status == 200 and "{id}" in label}

    def enough() -> bool:
        # Which links a suite takes depends on what the server answered before (ids, states),
        # not on the seed alone: suites go on until the links were followed too.
        reached = followed()
        return (
            sum(answered.values()) >= STEPS_WANTED
            and "GET /api/v1/payments/{id}" in reached
            and bool(reached & ACTIONS)
        )

    suite = 0
    while not enough() and suite < SUITES:
        # A suite ends early when the server's state moved under a prefix Hypothesis replayed
        # (payments advance, lists grow): as schemathesis's own engine does, start another.
        with contextlib.suppress(FlakyStrategyDefinition):
            run_state_machine_as_test(
                hypothesis.seed(suite)(Scenario),
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        suite += 1
    assert not failures, failures[0]
    assert sum(answered.values()) >= STEPS_WANTED, answered
    # The links were followed: ids of created payments reached the actions on them.
    assert "GET /api/v1/payments/{id}" in followed(), answered
    assert followed() & ACTIONS, answered
    assert not any(status >= 500 for (_, status) in answered), answered
