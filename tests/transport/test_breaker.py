"""The circuit breaker's state machine, stepped with a hand-driven clock."""

from __future__ import annotations

import math

import pytest

from paywire.transport import BreakerState, CircuitBreaker
from tests.transport.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[BreakerState]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[BreakerState]) -> CircuitBreaker:
    return CircuitBreaker(3, 30.0, clock=clock, on_change=changes.append)


def open_it(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        breaker.record_failure()


def test_starts_closed_and_allows_attempts(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    assert breaker.attempt_wait() == 0.0
    assert breaker.retry_in() == 0.0


def test_opens_after_threshold_consecutive_failures(
    breaker: CircuitBreaker, changes: list[BreakerState]
) -> None:
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.attempt_wait() == pytest.approx(30.0)
    assert changes == [BreakerState.OPEN]


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 2


def test_half_opens_after_reset_period_with_a_single_probe(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[BreakerState]
) -> None:
    open_it(breaker)
    clock.now += 29.9
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.attempt_wait() == 0.0
    assert breaker.attempt_wait() == math.inf, "only one probe while half-open"
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN]


def test_probe_success_closes(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[BreakerState]
) -> None:
    open_it(breaker)
    clock.now += 30
    assert breaker.attempt_wait() == 0.0
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.attempt_wait() == 0.0
    assert changes[-1] is BreakerState.CLOSED


def test_probe_failure_reopens_for_another_period(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_it(breaker)
    clock.now += 30
    assert breaker.attempt_wait() == 0.0
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(30.0)
    clock.now += 30
    assert breaker.attempt_wait() == 0.0, "a new period grants a new probe"


def test_manual_reset_closes_from_any_state(breaker: CircuitBreaker) -> None:
    open_it(breaker)
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.attempt_wait() == 0.0


def test_state_values_are_the_exported_gauge_values() -> None:
    assert [s.value for s in (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN)] == [
        0,
        1,
        2,
    ]


@pytest.mark.parametrize(("threshold", "reset_s"), [(0, 1.0), (1, 0.0)])
def test_refuses_nonsense_settings(threshold: int, reset_s: float) -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(threshold, reset_s)
