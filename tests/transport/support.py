"""Helpers shared by the transport tests: metric values, polling with a deadline, a fake clock,
and the shape of a scripted receiver's script (conftest's `scripted_receiver`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from prometheus_client import REGISTRY

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll `predicate` until it holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
