"""The pool of pipelined TLS connections that the pipeline sends pacs.008 messages through.

Least-loaded dispatch, at most max_inflight messages per connection (senders wait for room),
reconnects with backoff and jitter, and the circuit breaker; states are explicit as in asyncpg.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from paywire.config import Settings
from paywire.observability.logging import Throttled
from paywire.observability.metrics import tls_circuit_breaker_state, tls_connections_active
from paywire.transport.breaker import BreakerState, CircuitBreaker, SharedBreaker
from paywire.transport.connection import (
    Connection,
    ConnectionOptions,
    ConnectionState,
    ConnectionStats,
    Endpoint,
    Message,
    OutcomeHandler,
    UnmatchedHandler,
    count_error,
    tell,
)
from paywire.transport.errors import TransportError, Unanswered, UnansweredReason
from paywire.transport.settled import RecentlySettled
from paywire.transport.tls import client_context
from paywire.wire import Answer

log = logging.getLogger("paywire.transport")

# How long a closing connection may take to say goodbye (TLS close_notify) by default.
CLOSE_TIMEOUT_S = 5.0
# How long a slot waits before asking again while another process probes the receiver.
SHARED_PROBE_POLL_S = 0.25
# How long a slot waits, at most, before asking again whether another process's OPEN verdict
# still holds: one can be lifted before its end (an ADMIN's reset there, or a probe that worked).
SHARED_VERDICT_POLL_S = 1.0


class PoolState(enum.Enum):
    NEW = "NEW"  # built, start() not called yet
    OPEN = "OPEN"  # keeps pool_size connections up and takes messages
    CLOSING = "CLOSING"  # takes nothing new, waits for answers to what is in flight
    CLOSED = "CLOSED"


class _Slot:
    """One of the pool_size places a connection lives in; it is refilled when it ends."""

    __slots__ = ("conn", "connects", "dials", "index", "last_error", "stats")

    def __init__(self, index: int) -> None:
        self.index = index
        self.stats = ConnectionStats()
        self.conn: Connection | None = None
        self.connects = 0
        # Every attempt is numbered, not only those that connected: a log of failed dials
        # otherwise names one connection over and over, and cannot be read as a sequence.
        self.dials = 0
        self.last_error: str | None = None


def _ignore_unmatched(answer: Answer, payload: bytes) -> None:
    """Default: the connection has counted and logged the answer already."""


class ConnectionPool:
    """`await start()`, then `await send(...)` (`submit`, `submit_many` to pipeline many messages
    from one task), `await close()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_unmatched: UnmatchedHandler = _ignore_unmatched,
        connect_timeout_s: float = 10.0,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 10.0,
        tick_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedBreaker | None = None,
    ) -> None:
        """`connect_timeout_s` bounds one attempt (TCP, TLS, opening heartbeat);
        `close_timeout_s` how long a closing connection may take to say goodbye; reconnects wait
        a jittered `backoff_base_s * 2**n` capped at `backoff_max_s`; `tick_s` is the period of
        the deadline sweep (default: a tenth of the ACK timeout, at most 1 s); `clock` drives
        the circuit breaker; `shared` (REDIS_URL) lets the breakers of all gateway processes
        agree on this receiver."""
        settings.require("receiver_host", "receiver_port")
        assert settings.receiver_host is not None
        assert settings.receiver_port is not None
        self._endpoint = Endpoint(
            host=settings.receiver_host,
            port=settings.receiver_port,
            server_name=settings.server_name or settings.receiver_host,
            ssl_context=client_context(settings),
            pins=frozenset(settings.receiver_pin_sha256),
        )
        if tick_s is None:
            periods = [settings.ack_timeout_s / 10, 1.0]
            if settings.heartbeat_s:
                periods.append(settings.heartbeat_s / 4)
            tick_s = max(0.005, min(periods))
        self._options = ConnectionOptions(
            framing=settings.framing,
            max_frame_bytes=settings.max_frame_bytes,
            max_inflight=settings.max_inflight,
            ack_timeout_s=settings.ack_timeout_s,
            heartbeat_s=settings.heartbeat_s,
            tick_s=tick_s,
        )
        self._max_inflight = settings.max_inflight
        self._max_frame_bytes = settings.max_frame_bytes
        self._connect_timeout_s = connect_timeout_s
        self._close_timeout_s = close_timeout_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._on_unmatched = on_unmatched
        self._random = random.Random()
        self._state = PoolState.NEW
        self._loop: asyncio.AbstractEventLoop  # the loop start() runs on
        self._slots = [_Slot(i) for i in range(settings.pool_size)]
        self._open: list[Connection] = []
        self._settled = RecentlySettled(max(65_536, 4 * settings.pool_size * self._max_inflight))
        # What a receiver can cause by the thousand a second (junk frames, orphan answers) is
        # logged at most every 10 s per kind, across all of the pool's connections.
        self._peer_events = Throttled(log)
        # Senders waiting for room, first come first served.
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._unattempted: set[int] = set()
        self._first_round = asyncio.Event()
        self._breaker_changed = asyncio.Event()
        self._drained = asyncio.Event()
        self._closed = asyncio.Event()
        self._breaker_open = False
        self._breaker = CircuitBreaker(
            settings.cb_failure_threshold,
            settings.cb_reset_s,
            clock=clock,
            on_change=self._on_breaker_change,
        )
        self._shared = shared
        self._background: set[asyncio.Task[None]] = set()
        self._clearing: asyncio.Task[None] | None = None
        # Whether this breaker is OPEN only on another process's verdict (`trip`).
        self._on_verdict = False
        tls_circuit_breaker_state.set(BreakerState.CLOSED.value)

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def state(self) -> PoolState:
        return self._state

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def start(self) -> None:
        """Dial every slot once and return when each attempt has ended, whatever its outcome;
        failed slots keep retrying in the background."""
        if self._state is not PoolState.NEW:
            raise RuntimeError(f"pool is {self._state.value}, start() needs NEW")
        self._loop = asyncio.get_running_loop()
        self._state = PoolState.OPEN
        self._unattempted = {slot.index for slot in self._slots}
        for slot in self._slots:
            task = asyncio.create_task(self._supervise(slot), name=f"paywire-tls-slot-{slot.index}")
            task.add_done_callback(_log_crash)
            self._tasks.append(task)
        await self._first_round.wait()

    async def close(self, deadline_s: float = 30.0) -> None:
        """Stop taking messages, wait up to `deadline_s` for the answers to those in flight, then
        close every connection; what is still unanswered then ends `Unanswered("closed")`."""
        if self._state in (PoolState.CLOSING, PoolState.CLOSED):
            await self._closed.wait()
            return
        was_open = self._state is PoolState.OPEN
        self._state = PoolState.CLOSING
        self._fail_waiters("closed")
        if was_open and self._inflight_total():
            try:
                async with asyncio.timeout(deadline_s):
                    await self._drained.wait()
            except TimeoutError:
                log.warning("pool closing with %d messages unanswered", self._inflight_total())
        # Slots still dialling are cancelled below; only established connections say goodbye.
        conns = list(self._open)
        for conn in conns:
            conn.close()
        if conns:
            _, late = await asyncio.wait(
                [asyncio.ensure_future(conn.wait_closed()) for conn in conns],
                timeout=self._close_timeout_s,
            )
            if late:
                for conn in conns:
                    conn.abort()
                await asyncio.wait(late)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*self._background, return_exceptions=True)
        self._state = PoolState.CLOSED
        self._closed.set()

    # -- sending --------------------------------------------------------------------------------

    async def send(self, msg_id: str, payload: bytes, *, uetr: str | None = None) -> Answer:
        """Send one pacs.008 and return its ACK or NACK; raises `Unanswered` otherwise.

        `uetr`, when given, is checked against the answer's OrgnlUETR.
        """
        return await (await self.submit(msg_id, payload, uetr=uetr))

    async def submit(
        self, msg_id: str, payload: bytes, *, uetr: str | None = None
    ) -> asyncio.Future[Answer]:
        """Queue one message once a connection has room and return the future of its answer.

        Waits only while every connection is full (back-pressure); the future fails with
        `Unanswered("timeout" | "connection_lost" | "closed")`. Raises `Unanswered("closed")` or
        `Unanswered("breaker_open")` when the message cannot be queued at all.
        """
        if len(payload) > self._max_frame_bytes:
            raise ValueError(f"{msg_id}: {len(payload)} bytes exceed PAYWIRE_MAX_FRAME_BYTES")
        reason = self._refusal()
        if reason is not None:
            raise Unanswered(reason, msg_id)
        # Queue behind senders already waiting rather than overtake them.
        conn = None if self._waiters else self._least_loaded()
        front = False
        while conn is None:
            try:
                await self._wait_for_room(front)
            except Unanswered as exc:  # failed with all waiters, which carry no msg_id
                raise Unanswered(exc.reason, msg_id) from None
            reason = self._refusal()
            if reason is not None:
                raise Unanswered(reason, msg_id)
            conn = self._least_loaded()
            front = True
        future: asyncio.Future[Answer] = self._loop.create_future()
        conn.submit(msg_id, payload, uetr, future)
        return future

    async def submit_many(
        self,
        messages: Sequence[Message],
        on_outcome: OutcomeHandler,
        *,
        queue_by: float | None = None,
    ) -> None:
        """Queue many messages, `(msg_id, payload, uetr or None)` each; tell every one's outcome
        to `on_outcome(msg_id, outcome)`, exactly once.

        The outcome is the `Answer` (ACK or NACK) or an `Unanswered` whose reason says why not:
        "timeout", "connection_lost", "closed" (the pool closed, before or after the message was
        written, or this call was cancelled before it was), "breaker_open", "no_room" (still
        waiting for a connection with room at `queue_by`, a time of the event loop's clock: the
        caller's claim on the message ends then, so it must not leave later). The handler is called
        from the connection's read (no future, no task, no loop callback per message), or from
        this call for messages it could not queue; it must not block, and what it raises is
        logged and dropped.

        Returns once every message is queued or told: it waits while all connections are full,
        and fills them as answers free room, a read's worth at a time. msg_ids must be distinct
        and not in flight (`ValueError`, nothing queued); payloads fit PAYWIRE_MAX_FRAME_BYTES.
        """
        self._check_batch(messages)
        total = len(messages)
        done = 0
        reason = self._refusal()
        if reason is None and queue_by is not None and self._loop.time() >= queue_by:
            reason = "no_room"
        try:
            if reason is None and total:
                # Queue behind senders already waiting rather than overtake them.
                conns = None if self._waiters else self._with_room()
                overtaken = False
                while True:
                    if conns:
                        done = self._spread(messages, done, conns, on_outcome)
                        if done == total:
                            return
                        overtaken = False
                    else:
                        # Woken but overtaken before it ran, it keeps its place at the front.
                        try:
                            async with asyncio.timeout_at(queue_by):
                                await self._wait_for_room(overtaken)
                        except TimeoutError:
                            reason = "no_room"
                            break
                        overtaken = True
                    reason = self._refusal()
                    if reason is not None:
                        break
                    conns = self._with_room()
        except Unanswered as exc:  # failed with all waiters
            reason = exc.reason
        except asyncio.CancelledError:
            _tell_rest(messages, done, "closed", on_outcome)
            raise
        if reason is not None:
            _tell_rest(messages, done, reason, on_outcome)

    def _check_batch(self, messages: Sequence[Message]) -> None:
        max_bytes = self._max_frame_bytes
        msg_ids = {msg_id for msg_id, payload, _ in messages if len(payload) <= max_bytes}
        if len(msg_ids) != len(messages):
            for msg_id, payload, _ in messages:
                if len(payload) > max_bytes:
                    raise ValueError(
                        f"{msg_id}: {len(payload)} bytes exceed PAYWIRE_MAX_FRAME_BYTES"
                    )
            raise ValueError("msg_ids repeat within the batch")
        for slot in self._slots:
            conn = slot.conn
            if conn is not None and not msg_ids.isdisjoint(conn.inflight):
                already = sorted(msg_ids & conn.inflight.keys())
                raise ValueError(f"msg_ids already in flight: {already}")

    def _refusal(self) -> UnansweredReason | None:
        """Why nothing can be queued now, if so."""
        if self._state is not PoolState.OPEN:
            return "closed"
        # The flag spares the hot path a property call; the property may turn OPEN to HALF_OPEN.
        if self._breaker_open and self._breaker.state is BreakerState.OPEN:
            return "breaker_open"
        return None

    @property
    def room(self) -> int:
        """Messages the open connections would take now, without a sender waiting."""
        return sum(c.room for c in self._open)

    def _with_room(self) -> list[Connection]:
        """The open connections with room, the least loaded first."""
        conns = [c for c in self._open if c.room > 0]
        if len(conns) > 1:
            conns.sort(key=_load)
        return conns

    def _spread(
        self,
        messages: Sequence[Message],
        done: int,
        conns: list[Connection],
        on_outcome: OutcomeHandler,
    ) -> int:
        """Queue what fits from `messages[done:]`, shared evenly; the new `done`."""
        total = len(messages)
        for index, conn in enumerate(conns):
            share = -(-(total - done) // (len(conns) - index))
            take = min(share, conn.room)
            conn.submit_many(messages[done : done + take], on_outcome)
            done += take
            if done == total:
                break
        return done

    def _least_loaded(self) -> Connection | None:
        """The connection with the most room; None when none has any (a connection that just
        ended stays listed until its supervisor runs, and has none)."""
        best, most = None, 0
        for conn in self._open:
            room = conn.room
            if room > most:
                best, most = conn, room
        return best

    async def _wait_for_room(self, front: bool) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        # A sender woken and overtaken before it ran keeps its place at the front.
        if front:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Given room, it passes it on; failed with all waiters (the same tick), the
                # failure is the caller's to hear no more, but it is taken off the future.
                if waiter.exception() is None:
                    self._wake(1)
            else:
                # _wake may have dropped it already.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def _wake(self, n: int) -> None:
        waiters = self._waiters
        while n and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                n -= 1

    def _fail_waiters(self, reason: UnansweredReason) -> None:
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(Unanswered(reason))

    def _on_progress(self, freed: int, answered: int) -> None:
        # Any answer, ACK or NACK, shows the receiver works.
        if answered and self._breaker.failures:
            self._breaker.record_success()
        if self._waiters:
            self._wake(freed)
        if self._state is PoolState.CLOSING and not self._inflight_total():
            self._drained.set()

    def _inflight_total(self) -> int:
        return sum(len(slot.conn.inflight) for slot in self._slots if slot.conn is not None)

    # -- connections ----------------------------------------------------------------------------

    async def _supervise(self, slot: _Slot) -> None:
        """Keep one connection up in `slot` while the pool is OPEN."""
        failures = 0
        while self._state is PoolState.OPEN:
            wait_s = await self._may_dial()
            if wait_s is not None:
                self._attempted(slot)
                await self._wait_for_breaker(wait_s)
                continue
            # An attempt granted while HALF_OPEN is the one probe (`attempt_wait`).
            probe = self._breaker.state is BreakerState.HALF_OPEN
            slot.dials += 1
            conn = Connection(
                f"{slot.index}.{slot.dials}",
                self._options,
                slot.stats,
                self._settled,
                self._peer_events,
                self._on_unmatched,
                self._on_progress,
            )
            slot.conn = conn
            try:
                await conn.establish(self._endpoint, self._connect_timeout_s)
            except TransportError as exc:
                slot.conn = None
                slot.last_error = exc.message
                count_error(exc.reason, slot.stats)
                log.warning("connection %s failed: %s", conn.conn_id, exc.message)
                await self._record_failure()
                self._attempted(slot)
                failures += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            if self._state is not PoolState.OPEN:
                # Dialled while the pool closed: `close` no longer looks at new connections.
                slot.conn = None
                conn.abort()
                return
            slot.connects += 1
            failure = await self._run(slot, conn, probe)
            if failure is not None:
                slot.last_error = failure.message
                if conn.proven:
                    # The receiver answered on it: the failures before it are history. One it
                    # never answered on proved nothing, and its end continues their run: a
                    # receiver that drops every connection at the first message is dialled ever
                    # more slowly and trips the breaker.
                    failures = 0
                    if self._breaker.state is BreakerState.CLOSED:
                        self._breaker.record_success()
                await self._record_failure()
                failures += 1
                await asyncio.sleep(self._backoff(failures))

    async def _run(self, slot: _Slot, conn: Connection, probe: bool) -> TransportError | None:
        """Offer an established connection to senders until it ends."""
        if probe:
            # The probe got through: senders may use it. Any other connection opening proves
            # nothing yet, nor does one dialled before the breaker opened and done since; an
            # answer on it does (`_on_progress`), or its end after one.
            self._breaker.record_success()
        self._open.append(conn)
        tls_connections_active.inc()
        log.info("connection %s open", conn.conn_id)
        self._attempted(slot)
        self._wake(self._max_inflight)
        try:
            if probe and self._shared is not None:
                await self._shared.publish_closed()  # the probe worked: for everyone
            return await conn.wait_closed()
        except asyncio.CancelledError:
            # The pool's close cancels the slots it has waited for; a connection it did not
            # know of (opened meanwhile) must not outlive it.
            conn.abort()
            raise
        finally:
            self._open.remove(conn)
            tls_connections_active.dec()
            slot.conn = None
            if self._state is PoolState.CLOSING and not self._inflight_total():
                self._drained.set()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, so slots spread out."""
        delay = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** min(failures - 1, 30))
        return delay / 2 + self._random.uniform(0, delay / 2)

    def _attempted(self, slot: _Slot) -> None:
        if slot.index in self._unattempted:
            self._unattempted.discard(slot.index)
            if not self._unattempted:
                self._first_round.set()

    async def _may_dial(self) -> float | None:
        """None when a connection attempt may start now, else the longest wait before asking
        again (inf: until the breaker changes). With shared state, another process's OPEN
        verdict holds here too, and only the process that claims the probe makes it."""
        shared = self._shared
        if shared is not None:
            if self._clearing is not None and not self._clearing.done():
                await asyncio.wait([self._clearing])  # an admin reset clears the verdict first
            remaining = await shared.open_for()
            if remaining > 0:
                if not self._open:
                    # Nothing is up here either: take the verdict, so senders fail fast too.
                    self._breaker.trip(remaining)
                    self._on_verdict = True
                return min(remaining, SHARED_VERDICT_POLL_S)
            if self._on_verdict:
                # The verdict this breaker was OPEN on is lifted: one probe decides here too.
                self._on_verdict = False
                self._breaker.lift()
        wait_s = self._breaker.attempt_wait()
        if wait_s:
            return wait_s
        probing = self._breaker.state is BreakerState.HALF_OPEN
        if probing and shared is not None and not await shared.claim_probe(self._probe_ttl_s()):
            self._breaker.release_probe()
            return SHARED_PROBE_POLL_S
        return None

    def _probe_ttl_s(self) -> float:
        """How long a claimed probe excludes other processes: one attempt and its answer."""
        return self._connect_timeout_s + self._close_timeout_s

    async def _record_failure(self) -> None:
        self._breaker.record_failure()
        if self._shared is not None and self._breaker.state is BreakerState.OPEN:
            await self._shared.publish_open(self._breaker.retry_in())

    async def _wait_for_breaker(self, delay_s: float) -> None:
        """Until the breaker changes state or `delay_s` pass, whichever comes first."""
        changed = self._breaker_changed
        try:
            async with asyncio.timeout(None if math.isinf(delay_s) else delay_s):
                await changed.wait()
        except TimeoutError:
            pass

    def _on_breaker_change(self, state: BreakerState) -> None:
        self._breaker_open = state is BreakerState.OPEN
        if state is not BreakerState.OPEN:
            self._on_verdict = False
        tls_circuit_breaker_state.set(state.value)
        log.warning("circuit breaker %s", state.name)
        if state is BreakerState.OPEN:
            self._fail_waiters("breaker_open")
        # Wake every supervisor waiting on the breaker; later waiters get a fresh event.
        self._breaker_changed.set()
        self._breaker_changed = asyncio.Event()

    # -- admin ----------------------------------------------------------------------------------

    def reset_breaker(self) -> None:
        """Close the circuit breaker by hand; waiting slots dial at once. With shared state the
        reset clears the verdict for every process, before any slot here asks for it again."""
        self._breaker.reset()
        if self._shared is not None:
            self._clearing = self._spawn(self._shared.publish_closed())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def stats(self) -> dict[str, Any]:
        """The admin surface's view: each connection slot, the breaker, and totals."""
        connections = []
        for slot in self._slots:
            conn = slot.conn
            since = conn.connected_since if conn is not None else None
            connections.append(
                {
                    "id": slot.index,
                    "state": (conn.state if conn is not None else ConnectionState.CLOSED).value,
                    "inflight": len(conn.inflight) if conn is not None else 0,
                    "sent": slot.stats.sent,
                    "acks": slot.stats.acks,
                    "nacks": slot.stats.nacks,
                    "errors": slot.stats.errors,
                    "connects": slot.connects,
                    "connected_since": since.isoformat() if since is not None else None,
                    "last_error": slot.last_error,
                }
            )
        return {
            "state": self._state.value,
            "breaker": {"state": self._breaker.state.name, "failures": self._breaker.failures},
            "waiting_senders": len(self._waiters),
            "connections": connections,
            "totals": {
                "open": len(self._open),
                "inflight": self._inflight_total(),
                "sent": sum(slot.stats.sent for slot in self._slots),
                "acks": sum(slot.stats.acks for slot in self._slots),
                "nacks": sum(slot.stats.nacks for slot in self._slots),
                "errors": sum(slot.stats.errors for slot in self._slots),
            },
        }


def _load(conn: Connection) -> int:
    return len(conn.inflight)


def _tell_rest(
    messages: Sequence[Message], done: int, reason: UnansweredReason, on_outcome: OutcomeHandler
) -> None:
    for msg_id, _, _ in messages[done:]:
        tell(on_outcome, msg_id, Unanswered(reason, msg_id))


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connection supervisor crashed", exc_info=task.exception())
