"""A worker loop: run one batch step after another while there is work, rest when there is none.

Steps are woken in-process by the stage before them and poll the database for work that other
processes made; a step that fails waits with backoff and runs again, it never ends the loop. A
batch that fails for a reason other than the database is split with `one_by_one`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from paywire.store.tx import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

Item = TypeVar("Item")

Step = Callable[[int], Awaitable[int]]


def backoff_s(failures: int, cap_s: float) -> float:
    """How long to wait after `failures` failures in a row: doubling from 0.1 s up to `cap_s`,
    with up to half of it taken off at random so that retrying workers spread out."""
    doubled: float = 0.05 * 2.0 ** min(failures, 10)
    return min(cap_s, doubled) * random.uniform(0.5, 1.0)


async def rest(event: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `event` is set meanwhile (work arrived, or a stop); whether it
    was."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def finish(task: asyncio.Task[None], within_s: float | None, what: str) -> None:
    """Wait for `task` to end; one still running after `within_s` is cancelled, which rolls back
    the transaction it is in, and waited for. A stop must end within the deployments' grace
    period whatever a step is waiting on: a lock, a connection from a pool that exports hold, the
    network. What the task raised is raised here, as `await task` would."""
    done, _ = await asyncio.wait([task], timeout=within_s)
    if not done:
        log.warning("%s still running %.1f s into the stop; cancelled", what, within_s)
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.result()


async def one_by_one(
    items: Iterable[Item],
    process: Callable[[Item], Awaitable[None]],
    on_failure: Callable[[Item, Exception], Awaitable[None]],
) -> None:
    """Process the items of a failed batch one at a time, so one bad item cannot take the good
    ones down with it: an item that fails goes to `on_failure` and the next one is tried.

    A transient error says nothing about the item: it ends the run and propagates, and the
    caller retries as it would have retried the batch.
    """
    for item in items:
        try:
            await process(item)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            await on_failure(item, exc)


class StepLoop:
    """Runs `step(limit)`, which claims and processes at most `limit` items and returns how many
    it took, until `stop()`; a full batch runs the next at once, a short one rests until woken or
    `idle_s` has passed."""

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        batch: int,
        idle_s: float,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.name = name
        self._step = step
        self._batch = batch
        self._idle_s = idle_s
        self._backoff_max_s = backoff_max_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"paywire-{self.name}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, within_s: float | None = None) -> None:
        """Let the step under way finish, then end the loop; a step still running after
        `within_s` is cancelled (`finish`)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await finish(self._task, within_s, f"the {self.name} step")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                taken = await self._step(self._batch)
            except TRANSIENT_ERRORS as exc:
                self.failures += 1
                delay = backoff_s(self.failures, self._backoff_max_s)
                log.warning(
                    "%s step failed, retrying in %.2f s: %s: %s",
                    self.name,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                await self._rest(delay)
                continue
            except Exception:
                # A bug or a constraint the step did not expect: keep the loop alive, slowly.
                self.failures += 1
                log.exception("%s step failed", self.name)
                await self._rest(self._backoff_max_s)
                continue
            self.failures = 0
            if taken < self._batch:
                await self._rest(self._idle_s)

    async def _rest(self, seconds: float) -> None:
        if not self._stopping:
            await rest(self._wake, seconds)
