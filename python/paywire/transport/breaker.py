"""The circuit breaker in front of the receiver: stop dialling a receiver that keeps failing.

Pure state, no I/O and an injectable clock, so the pool drives it and tests step time by hand.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from typing import Protocol


class BreakerState(enum.IntEnum):
    """The values are what `tls_circuit_breaker_state` exports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """CLOSED → OPEN after `failure_threshold` consecutive connection failures; OPEN → HALF_OPEN
    once `reset_s` have passed, which grants exactly one probe attempt; the probe's success closes
    the breaker and its failure opens it again. `reset()` closes it by hand.

    A failure is a connection attempt that failed or a connection that was lost; an answer
    (ACK or NACK alike) is a success.
    """

    def __init__(
        self,
        failure_threshold: int,
        reset_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_s <= 0:
            raise ValueError("failure_threshold must be ≥ 1 and reset_s positive")
        self._threshold = failure_threshold
        self._reset_s = reset_s
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        # OPEN turns HALF_OPEN lazily, when someone looks, so no timer is needed.
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_s:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an OPEN breaker allows its probe; 0 when it is not OPEN."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._reset_s - self._clock())

    def attempt_wait(self) -> float:
        """0.0 when a connection attempt may start now (in HALF_OPEN, the one probe, granted to
        this caller); else the seconds to wait before asking again: the rest of the OPEN period,
        or inf while another caller holds the probe (the breaker's next change ends that wait).

        One reading of the clock decides: read twice, the OPEN period could end between the
        readings, and a caller told "not yet" by the first and "no time left" by the second
        would wait for ever on a breaker that nobody probes."""
        if self._state is BreakerState.OPEN:
            left = self._opened_at + self._reset_s - self._clock()
            if left > 0:
                return left
            self._set(BreakerState.HALF_OPEN)
        if self._state is BreakerState.CLOSED:
            return 0.0
        if not self._probing:
            self._probing = True
            return 0.0
        return math.inf

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._failures >= self._threshold
        ):
            self._probing = False
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def reset(self) -> None:
        """Close the breaker by hand (the admin surface's reset)."""
        self.record_success()

    def trip(self, for_s: float) -> None:
        """Open the breaker for `for_s` seconds on another process's verdict (shared state)."""
        self._probing = False
        self._opened_at = self._clock() - self._reset_s + for_s
        if self._state is not BreakerState.OPEN:
            self._set(BreakerState.OPEN)

    def lift(self) -> None:
        """End an OPEN period now (the shared verdict it was taken from is lifted): HALF_OPEN,
        so one probe decides whether the receiver is back."""
        if self._state is BreakerState.OPEN:
            self._opened_at = self._clock() - self._reset_s

    def release_probe(self) -> None:
        """Give back the HALF_OPEN probe `attempt_wait` granted, unused: another process
        probes the receiver for everyone."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)


class SharedBreaker(Protocol):
    """One receiver's breaker verdict as all gateway processes see it (REDIS_URL): a process
    whose breaker opens publishes it, the others stop dialling for the rest of the period, and
    one probe at a time tries the receiver again. Implemented in `paywire.shared_state`."""

    async def open_for(self) -> float:
        """Seconds the receiver stays OPEN by some process's verdict; 0 when none holds."""
        ...

    async def publish_open(self, reset_s: float) -> None: ...

    async def claim_probe(self, ttl_s: float) -> bool:
        """Whether this process may make the HALF_OPEN probe (no other process is making it)."""
        ...

    async def publish_closed(self) -> None: ...
