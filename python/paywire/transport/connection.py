"""One pipelined TLS connection to the receiver: frames out, answers in, deadlines and heartbeats.

A Protocol rather than streams: one read is decoded and matched in one call, and the frames queued
during a loop iteration leave in one write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import logging
import ssl
import time
from collections.abc import Callable, Collection, Sequence
from typing import Final, TypeAlias, cast, get_args

from paywire.errors import host_port
from paywire.observability.logging import Throttled
from paywire.observability.metrics import (
    AnomalyKind,
    tls_ack_latency_seconds,
    tls_acks_received_total,
    tls_connection_errors_total,
    tls_messages_inflight,
    tls_nacks_received_total,
    tls_protocol_anomalies_total,
)
from paywire.transport.errors import FailureReason, TransportError, Unanswered, UnansweredReason
from paywire.transport.latency import LatencyRecorder
from paywire.transport.settled import RecentlySettled
from paywire.transport.tls import check_pin
from paywire.wire import (
    Answer,
    AnswerError,
    FrameDecoder,
    FramingError,
    encode_frames,
    parse_answer,
)

log = logging.getLogger("paywire.transport")
# What the receiver can make happen by the thousand a second: each counted, a few logged.

_ACK_LATENCY = LatencyRecorder(tls_ack_latency_seconds)

# Told every answer that settles no message in flight here (see `Connection._unmatched`).
UnmatchedHandler = Callable[[Answer, bytes], None]
# Told the outcome of one message sent through `ConnectionPool.submit_many`: (msg_id, outcome).
OutcomeHandler: TypeAlias = Callable[[str, Answer | Unanswered], None]
# One message for `submit_many`: (msg_id, payload, uetr to check the answer against or None).
Message: TypeAlias = tuple[str, bytes, str | None]
# Who is told a message's outcome: the future of a `submit`, or the handler of a `submit_many`.
Sink: TypeAlias = asyncio.Future[Answer] | OutcomeHandler
# Called after a read or a sweep freed slots: (slots freed, of which answered).
ProgressHandler = Callable[[int, int], None]

_HEARTBEAT: Final = b""
_Future = asyncio.Future


class ConnectionState(enum.Enum):
    CONNECTING = "CONNECTING"  # TCP/TLS handshake, pin check, opening heartbeat
    OPEN = "OPEN"  # takes messages
    CLOSING = "CLOSING"  # closed or given up by us, waiting for the transport to end
    CLOSED = "CLOSED"


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to dial: nothing else is ever connected to."""

    host: str
    port: int
    server_name: str
    ssl_context: ssl.SSLContext
    pins: Collection[str] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionOptions:
    framing: str
    max_frame_bytes: int
    max_inflight: int
    ack_timeout_s: float
    heartbeat_s: float  # 0: no heartbeats at all, not even the opening one
    tick_s: float  # period of the deadline sweep and heartbeat check


@dataclasses.dataclass(slots=True)
class ConnectionStats:
    """Counters of one pool slot; they outlive the connections made on it."""

    sent: int = 0
    acks: int = 0
    nacks: int = 0
    errors: int = 0


def count_error(reason: FailureReason, stats: ConnectionStats) -> None:
    stats.errors += 1
    tls_connection_errors_total.labels(reason=reason).inc()


# Every reason exported from the start, at 0: a series that appears only with its first error
# reads as "no data" on a dashboard, and `increase()` misses that first error.
for _reason in get_args(FailureReason):
    tls_connection_errors_total.labels(reason=_reason)


class Connection(asyncio.Protocol):
    """A connection's in-flight table maps msg_id to (sink, sent_at, uetr).

    Entries are inserted in send order with one timeout for all, so the dict's insertion order is
    also deadline order: the sweep stops at the first entry still in time, and no message needs a
    timer of its own.
    """

    def __init__(
        self,
        conn_id: str,
        options: ConnectionOptions,
        stats: ConnectionStats,
        settled: RecentlySettled,
        peer_events: Throttled,
        on_unmatched: UnmatchedHandler,
        on_progress: ProgressHandler,
    ) -> None:
        self.conn_id = conn_id
        self.state = ConnectionState.CONNECTING
        self.stats = stats
        self.connected_since: datetime.datetime | None = None
        # Whether the receiver has sent anything since the connection opened (an answer, a
        # heartbeat): the pool's backoff and breaker count the end of one that never did as
        # one more failure in a row.
        self.proven = False
        self.inflight: dict[str, tuple[Sink, float, str | None]] = {}
        self._options = options
        self._framing = options.framing
        self._decoder = FrameDecoder(options.framing, options.max_frame_bytes)
        self._settled = settled
        self._peer_events = peer_events
        self._on_unmatched = on_unmatched
        self._on_progress = on_progress
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._pending: list[bytes] = []
        self._pending_messages = 0
        self._flush_handle: asyncio.Handle | None = None
        self._batch_time = 0.0
        self._tick_handle: asyncio.TimerHandle | None = None
        self._confirmed: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[TransportError | None] = self._loop.create_future()
        self._failure: TransportError | None = None
        self._pins: Collection[str] = ()  # the endpoint's, set by establish()
        # What messages still in flight at the end are told: lost, or closed by us.
        self._unanswered_reason: UnansweredReason = "connection_lost"
        # When the receiver last sent a frame. Liveness is judged by what arrives only: what we
        # write reaches the kernel whether or not the receiver still reads it, so a connection
        # kept busy by our sends would otherwise never probe a receiver that hung.
        self._last_rx = time.monotonic()
        # Heartbeat bookkeeping, see _on_heartbeat.
        self._probe_sent_at: float | None = None
        self._echo_until = 0.0
        # Since when the transport's write buffer has been over its high-water mark
        # (pause_writing), None while writes flow; whether the next write already carries an
        # answer to a heartbeat of the receiver's; whether one is owed for when writing resumes.
        self.paused_since: float | None = None
        self._answer_queued = False
        self._answer_owed = False

    # -- opening --------------------------------------------------------------------------------

    async def establish(self, endpoint: Endpoint, connect_timeout_s: float) -> None:
        """Dial, handshake, check the pin, and wait for the answer to an opening heartbeat.

        The opening heartbeat makes a refusal that TLS 1.3 reports only after the handshake (a
        missing client certificate) fail the attempt instead of a connection that looked open.
        """
        confirming = False
        self._pins = endpoint.pins
        try:
            async with asyncio.timeout(connect_timeout_s):
                await self._loop.create_connection(
                    lambda: self,
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.ssl_context,
                    server_hostname=endpoint.server_name,
                    ssl_handshake_timeout=connect_timeout_s,
                )
                if self._failure is not None:
                    raise self._failure  # refused in connection_made (the pin)
                if self._options.heartbeat_s:
                    # The opening heartbeat; with heartbeats off (for a receiver that does not
                    # answer them) the connection is open once the handshake is done.
                    confirming = True
                    self._probe_sent_at = time.monotonic()
                    self._queue(_HEARTBEAT)
                    await asyncio.shield(self._confirmed)
                    if self._failure is not None:
                        # The read that confirmed it also gave it up (a bad frame header
                        # after the echo): no connection, and no probe that succeeded.
                        raise self._failure
        except BaseException as exc:
            self.abort()
            if isinstance(exc, TransportError) or not isinstance(exc, Exception):
                raise
            raise _refusal(exc, endpoint, connect_timeout_s, confirming) from None
        self.state = ConnectionState.OPEN
        self.connected_since = datetime.datetime.now(datetime.UTC)
        self._tick_handle = self._loop.call_later(self._options.tick_s, self._tick)

    @property
    def room(self) -> int:
        """Messages this connection takes now. None unless it is OPEN and its writes flow: a
        receiver that stops reading while its heartbeats keep the connection alive would
        otherwise be handed, every answer timeout, the room its expired messages freed, and
        our write buffer would grow by them for as long as it kept that up."""
        if self.state is not ConnectionState.OPEN or self.paused_since is not None:
            return 0
        return self._options.max_inflight - len(self.inflight)

    async def wait_closed(self) -> TransportError | None:
        """Wait until the connection is gone; the failure that ended it, None if we closed it."""
        return await asyncio.shield(self._closed)

    # -- sending --------------------------------------------------------------------------------

    def submit(
        self, msg_id: str, payload: bytes, uetr: str | None, future: asyncio.Future[Answer]
    ) -> None:
        """Queue one message; it is written with the others queued in this loop iteration."""
        inflight = self.inflight
        if msg_id in inflight:
            raise ValueError(f"msg_id {msg_id!r} is already in flight")
        inflight[msg_id] = (future, self._write_soon(), uetr)
        self._pending.append(payload)
        self._pending_messages += 1

    def submit_many(self, messages: Sequence[Message], on_outcome: OutcomeHandler) -> None:
        """Queue messages the pool has checked: distinct msg_ids, none in flight, room for all."""
        sent_at = self._write_soon()
        inflight = self.inflight
        append = self._pending.append
        for msg_id, payload, uetr in messages:
            inflight[msg_id] = (on_outcome, sent_at, uetr)
            append(payload)
        self._pending_messages += len(messages)

    def _queue(self, payload: bytes) -> None:
        self._write_soon()
        self._pending.append(payload)

    def _write_soon(self) -> float:
        """Schedules the write of what this loop iteration queues, unless it is already; returns
        its time stamp: everything queued before it leaves in the same write, one clock reading."""
        if self._flush_handle is None:
            self._batch_time = time.monotonic()
            self._flush_handle = self._loop.call_soon(self._flush)
        return self._batch_time

    def _flush(self) -> None:
        self._flush_handle = None
        self._answer_queued = False
        frames, self._pending = self._pending, []
        messages, self._pending_messages = self._pending_messages, 0
        transport = self._transport
        # Messages go into the transport's buffer whatever its size: the pool hands none to a
        # connection whose writes are paused (`room`), which bounds it. Heartbeat answers,
        # which the receiver could make us write without limit, wait while it is full.
        if transport is not None and not transport.is_closing():
            transport.write(encode_frames(frames, self._framing))
        if messages:
            self.stats.sent += messages
            tls_messages_inflight.inc(messages)

    # -- receiving ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport implements asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        # The pin is checked here, before a byte of the peer is read: a server whose certificate
        # the CA vouches for but the pin refuses must not hand the settler an answer meanwhile.
        try:
            check_pin(transport.get_extra_info("ssl_object"), self._pins)
        except TransportError as exc:
            self._fail(exc.reason, exc.message)

    def pause_writing(self) -> None:
        self.paused_since = time.monotonic()

    def resume_writing(self) -> None:
        self.paused_since = None
        if self._answer_owed and not self._answer_queued:
            self._answer_owed = False
            self._answer_heartbeat(time.monotonic())
        if self.state is ConnectionState.OPEN:
            self._on_progress(self.room, 0)  # room for the senders waiting meanwhile

    def data_received(self, data: bytes) -> None:
        if self._failure is not None:
            return  # given up (a refused pin, a framing error): nothing more is read
        try:
            payloads = self._decoder.feed(data)
        except FramingError as exc:
            # The answers completed before the bad header are real: settle them, then close.
            self._take(exc.frames)
            self._fail("protocol", f"framing error from the receiver: {exc}")
            return
        self._take(payloads)

    def _take(self, payloads: list[bytes]) -> None:
        if not payloads:
            return
        now = self._last_rx = time.monotonic()
        if not self._confirmed.done():
            self._confirmed.set_result(None)
        # The echo that confirms a connection arrives while it is CONNECTING and proves
        # nothing yet; with heartbeats off it is OPEN from the handshake, and its first read is
        # an answer.
        if self.state is ConnectionState.OPEN:
            self.proven = True
        inflight = self.inflight
        settled: dict[str, str] = {}  # msg_id: the kind of answer that settled it
        sent: list[float] = []
        nacks = 0
        for payload in payloads:
            if not payload:
                self._on_heartbeat(now)
                continue
            try:
                answer = parse_answer(payload)
            except AnswerError as exc:
                self._anomaly("unparseable", f"{len(payload)}-byte payload: {exc}")
                continue
            msg_id = answer.msg_id
            entry = inflight.get(msg_id)
            if entry is None:
                self._unmatched(answer, payload, settled)
                continue
            sink, sent_at, uetr = entry
            if uetr is not None and answer.uetr not in (None, uetr):
                # Settling on a mismatching answer could settle the wrong payment; the message
                # stays in flight and times out, so it is resent. The answer is the pipeline's
                # to keep and to raise with an operator, as if it had come late.
                self._anomaly("uetr_mismatch", f"{msg_id}: OrgnlUETR {answer.uetr} != {uetr}")
                self._hand_over(answer, payload)
                continue
            del inflight[msg_id]
            settled[msg_id] = answer.kind
            sent.append(sent_at)
            if answer.kind == "NACK":
                nacks += 1
            tell(sink, msg_id, answer)
        if settled:
            self._settled.update(settled)
            _ACK_LATENCY.record_since(now, sent)
            self._answered(len(settled) - nacks, nacks)

    def _answered(self, acks: int, nacks: int) -> None:
        stats = self.stats
        if acks:
            stats.acks += acks
            tls_acks_received_total.inc(acks)
        if nacks:
            stats.nacks += nacks
            tls_nacks_received_total.inc(nacks)
        tls_messages_inflight.dec(acks + nacks)
        self._on_progress(acks + nacks, acks + nacks)

    def _unmatched(
        self, answer: Answer, payload: bytes, settled_in_this_read: dict[str, str]
    ) -> None:
        """An answer for no message in flight: a repeat of the answer that settled its message
        is dropped; one that contradicts it (a NACK after the ACK), or names no message settled
        lately, goes to the pipeline, which keeps every answer and raises what needs raising."""
        msg_id = answer.msg_id
        settled_as = settled_in_this_read.get(msg_id) or self._settled.settled_as(msg_id)
        if settled_as == answer.kind:
            tls_protocol_anomalies_total.labels(kind="duplicate").inc()
            return
        kind: AnomalyKind = "orphan" if settled_as is None else "contradiction"
        tls_protocol_anomalies_total.labels(kind=kind).inc()
        self._peer_events.warning(
            kind,
            "answer for unknown message"
            if settled_as is None
            else "answer contradicting the one that settled its message",
            extra={"conn_id": self.conn_id, "msg_id": msg_id, "kind": answer.kind},
        )
        self._hand_over(answer, payload)

    def _hand_over(self, answer: Answer, payload: bytes) -> None:
        try:
            self._on_unmatched(answer, payload)
        except Exception:
            log.exception("unmatched-answer handler failed", extra={"msg_id": answer.msg_id})

    def _anomaly(self, kind: AnomalyKind, detail: str) -> None:
        tls_protocol_anomalies_total.labels(kind=kind).inc()
        self._peer_events.warning(
            kind, "protocol anomaly: %s: %s", kind, detail, extra={"conn_id": self.conn_id}
        )

    def _on_heartbeat(self, now: float) -> None:
        """Answer the receiver's heartbeats but never its answers to ours.

        The receiver answers every heartbeat (SPEC §4), including ours that answer its own; a
        heartbeat that arrives while one of ours awaits its echo is taken as that echo, and so
        is the first one after we answered, which ends any exchange after one round.

        One answer per write is enough for any number of heartbeats read meanwhile, and while
        our writes are paused the answer waits until they resume (one, however many arrived): a
        receiver that floods heartbeats and stops reading would otherwise grow our write buffer
        for as long as it kept sending (one loop iteration can read megabytes of them), while
        one that only reads slowly still gets its answer.
        """
        if self._probe_sent_at is not None:
            self._probe_sent_at = None
        elif now < self._echo_until:
            self._echo_until = 0.0
        elif self._options.heartbeat_s and not self._answer_queued:
            if self.paused_since is not None:
                self._answer_owed = True
            else:
                self._answer_heartbeat(now)

    def _answer_heartbeat(self, now: float) -> None:
        self._answer_queued = True
        self._queue(_HEARTBEAT)
        self._echo_until = now + self._options.heartbeat_s

    # -- time -----------------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        ack_timeout_s = self._options.ack_timeout_s
        paused_since = self.paused_since
        if paused_since is not None and now - paused_since >= ack_timeout_s:
            # Not one message written meanwhile could have been answered in time. Whatever the
            # receiver sent on it (heartbeats), the connection proved nothing: its end continues
            # the run of failures that backs off and trips the breaker.
            self.proven = False
            self._fail("stalled", f"receiver took none of our writes for {ack_timeout_s} s")
            return
        expired = self._expire(now - ack_timeout_s)
        if expired:
            tls_messages_inflight.dec(expired)
            self._on_progress(expired, 0)
        heartbeat_s = self._options.heartbeat_s
        if heartbeat_s:
            probe_sent_at = self._probe_sent_at
            if probe_sent_at is None:
                if now - self._last_rx >= heartbeat_s:
                    self._probe_sent_at = now
                    self._queue(_HEARTBEAT)
            elif now - probe_sent_at >= heartbeat_s and now - self._last_rx >= heartbeat_s:
                self._fail("heartbeat", f"receiver silent for {heartbeat_s} s after a heartbeat")
                return
        self._tick_handle = self._loop.call_later(self._options.tick_s, self._tick)

    def _expire(self, cutoff: float) -> int:
        inflight = self.inflight
        expired = []
        for msg_id, (_, sent_at, _) in inflight.items():
            if sent_at > cutoff:
                break
            expired.append(msg_id)
        for msg_id in expired:
            tell(inflight.pop(msg_id)[0], msg_id, Unanswered("timeout", msg_id))
        return len(expired)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close after flushing what is queued; messages still in flight end "closed"."""
        if self.state in (ConnectionState.CLOSING, ConnectionState.CLOSED):
            return
        self.state = ConnectionState.CLOSING
        self._unanswered_reason = "closed"
        if self._transport is not None:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush()
            self._transport.close()
        else:
            self._finish(None)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        elif not self._closed.done():
            self._finish(None)

    def _fail(self, reason: FailureReason, message: str) -> None:
        """Give the connection up; connection_lost then fails what is in flight."""
        if self._failure is None:
            self._failure = TransportError(reason, message)
        if self.state is ConnectionState.OPEN:
            # connection_lost comes in a later callback; until then the pool must not choose a
            # connection whose transport no longer writes (a sender woken by the answers of the
            # same read would otherwise spend its messages' attempts on it).
            self.state = ConnectionState.CLOSING
        self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        failure = self._failure
        if failure is None and self._unanswered_reason != "closed":
            if isinstance(exc, ssl.SSLError):
                failure = TransportError("tls", f"TLS failed: {_ssl_text(exc)}")
            elif self.state is ConnectionState.CONNECTING:
                failure = TransportError(
                    "tls",
                    "TLS failed: the receiver hung up right after the handshake (does it require "
                    f"a client certificate?): {exc or 'closed'}",
                )
            else:
                failure = TransportError("lost", f"connection lost: {exc or 'closed by peer'}")
        # During establish() the caller reports the failure; afterwards it is counted here.
        if failure is not None and self.state is not ConnectionState.CONNECTING:
            count_error(failure.reason, self.stats)
            log.warning(
                "connection %s ended: %s",
                self.conn_id,
                failure.message,
                extra={"conn_id": self.conn_id, "reason": failure.reason},
            )
        self._finish(failure)

    def _finish(self, failure: TransportError | None) -> None:
        self.state = ConnectionState.CLOSED
        self._transport = None
        for handle in (self._flush_handle, self._tick_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._tick_handle = None
        self._pending = []
        # Queued messages whose write was cancelled above were never counted in flight.
        unflushed, self._pending_messages = self._pending_messages, 0
        reason = self._unanswered_reason
        inflight, self.inflight = self.inflight, {}
        for msg_id, (sink, _, _) in inflight.items():
            tell(sink, msg_id, Unanswered(reason, msg_id))
        if len(inflight) > unflushed:
            tls_messages_inflight.dec(len(inflight) - unflushed)
        if not self._confirmed.done():
            self._confirmed.set_exception(
                failure or TransportError("lost", "connection closed before it was confirmed")
            )
            # establish() may already have given up on it; nobody else will look.
            self._confirmed.exception()
        if not self._closed.done():
            self._closed.set_result(failure)
        if inflight:
            self._on_progress(len(inflight), 0)


def tell(sink: Sink, msg_id: str, outcome: Answer | Unanswered) -> None:
    """Tell a sink how a message ended; a failing handler must not stop the others."""
    if isinstance(sink, _Future):
        if sink.done():
            return
        if isinstance(outcome, Unanswered):
            sink.set_exception(outcome)
        else:
            sink.set_result(outcome)
        return
    try:
        sink(msg_id, outcome)
    except Exception:
        log.exception("outcome handler failed", extra={"msg_id": msg_id})


def _refusal(
    exc: Exception, endpoint: Endpoint, timeout_s: float, confirming: bool
) -> TransportError:
    """Say which step of opening a connection failed, and the likely why."""
    where = host_port(endpoint.host, endpoint.port)
    tls = f"TLS with {where} (server name {endpoint.server_name!r}) failed"
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"{tls}: {_ssl_text(exc)}")
    if isinstance(exc, TimeoutError):
        if confirming:
            return TransportError(
                "heartbeat", f"{where} did not answer the opening heartbeat within {timeout_s} s"
            )
        return TransportError("connect", f"connecting to {where} timed out after {timeout_s} s")
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError):
        # A reset can only come once TCP is up, so it is the TLS handshake being refused; the
        # peer's alert is usually lost with the reset, hence the guesses.
        minimum = endpoint.ssl_context.minimum_version.name.replace("v1_", " 1.")
        return TransportError(
            "tls",
            f"{tls}: the receiver hung up during the handshake; it may offer no protocol "
            f"version at or above {minimum}, or require a client certificate",
        )
    if isinstance(exc, OSError):
        return TransportError("connect", f"cannot connect to {where}: {exc}")
    # Not a network error but a bug; it must still end as a counted failure, not kill the slot.
    log.error("unexpected error opening %s", where, exc_info=exc)
    return TransportError("connect", f"unexpected error opening {where}: {exc!r}")


def _ssl_text(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    return exc.reason or str(exc)
