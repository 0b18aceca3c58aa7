"""The reference receiver: a TLS server that answers each pacs.008 with a pacs.002 (or admi.002).

De-duplicates by MsgId, NACKs by rule and misbehaves on request (see `Faults`); answers to one
read leave in one write so it keeps up with a pipelining client.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import logging
import random
import re
import secrets
import uuid
from types import TracebackType
from typing import Any, NamedTuple, cast

from paywire.domain.validation import defanged
from paywire.errors import listen_refusal
from paywire.receiver.config import Faults, ReceiverConfig, check_port
from paywire.receiver.log import MessageLog
from paywire.receiver.rules import ACCEPTED, Decision, Rules
from paywire.receiver.tls import server_context
from paywire.wire import (
    NOT_PROVIDED,
    AnswerBook,
    FrameDecoder,
    FramingError,
    InvalidMessage,
    build_admi002,
    build_pacs002,
    encode_frame,
    encode_frames,
    parse_answer,
    parse_pacs008_summary,
)

log = logging.getLogger("paywire.receiver")

_HEARTBEAT = b""
_MSG_ID = re.compile(rb"<MsgId>([^<]{1,35})</MsgId>")


class _Answer(NamedTuple):
    """A decided answer, kept so a resend of the same MsgId gets the same bytes."""

    payload: bytes
    msg_id: str
    uetr: str | None
    status: str
    reason_code: str | None
    doc: str  # "pacs.002" or "admi.002"

    @property
    def kind(self) -> str:
        return "NACK" if self.doc == "admi.002" or self.status == "RJCT" else "ACK"

    @classmethod
    def sent_before(cls, payload: bytes) -> _Answer:
        """A remembered answer, read back from the bytes sent."""
        answer = parse_answer(payload)
        return cls(
            payload, answer.msg_id, answer.uetr, answer.status, answer.reason_code, "pacs.002"
        )


@dataclasses.dataclass(slots=True)
class ReceiverStats:
    connections: int = 0
    received: int = 0
    duplicates: int = 0
    malformed: int = 0
    answers_sent: int = 0
    withheld: int = 0
    heartbeats_received: int = 0
    heartbeats_sent: int = 0


class Receiver:
    """`await start()`, read `port`, `await stop()`; or `async with Receiver(config) as r:`."""

    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.stats = ReceiverStats()
        self._ssl = server_context(
            config.cert_file,
            config.key_file,
            client_ca_file=config.client_ca_file,
            min_version=config.tls_min_version,
        )
        self._rng = random.Random(config.seed)
        self._log = MessageLog(config.log_file) if config.log_file is not None else None
        # Numbers the answers and keeps the one sent for each MsgId, so a resend gets the same
        # bytes; the prefix tells this run's answers from another's.
        self._book = AnswerBook(
            f"PWR{secrets.token_hex(4).upper()}", config.dedup_capacity, config.framing
        )
        self._orphan_seq = 0
        # Without faults (heartbeats aside), log or rules, every message is accepted: the wire
        # core answers a whole read in one call.
        faults = dataclasses.replace(config.faults, heartbeat_s=0.0)
        self._plain = config.log_file is None and faults == Faults() and config.rules == Rules()
        self._answers_until_garbage = config.faults.garbage_every
        self._garbage = _garbage_frame(config.framing, config.faults.garbage_kind)
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the receiver has not started")
        return self._port

    @property
    def host(self) -> str:
        return self.config.host

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.config.host, self.config.port
        check_port(port)
        try:
            self._server = await loop.create_server(
                self._new_session, host, port, ssl=self._ssl, backlog=512
            )
        except OSError as exc:
            raise listen_refusal(
                exc, host, port, host_setting="--host", port_setting="--port"
            ) from None
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, drop every connection and close the log."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _new_session(self) -> _Session:
        self.stats.connections += 1
        return _Session(self, f"r{self.stats.connections}")

    # -- answering ------------------------------------------------------------------------------

    def respond(self, session: _Session, payloads: list[bytes]) -> None:
        """Answer the frames of one read: heartbeats at once, messages after the ack delay."""
        if self._plain:
            self._respond_plainly(session, payloads)
            return
        faults = self.config.faults
        rng = self._rng
        now = datetime.datetime.now(datetime.UTC)
        delayed = bool(faults.ack_delay_ms)
        journal = (
            _Journal(self._log, now.isoformat(), session.conn_id, held=delayed)
            if self._log
            else None
        )
        answers: list[bytes] = []
        heartbeats = 0
        close_after = False
        for payload in payloads:
            if not payload:
                heartbeats += 1
                continue
            answer, duplicate = self._answer(payload, now)
            if journal:
                journal.received(answer, duplicate)
            if faults.no_answer_rate and rng.random() < faults.no_answer_rate:
                self.stats.withheld += 1
                if journal:
                    journal.sent("withheld", answer, duplicate)
            else:
                answers.append(answer.payload)
                if journal:
                    journal.sent("answer", answer, duplicate)
                if faults.duplicate_rate and rng.random() < faults.duplicate_rate:
                    answers.append(answer.payload)
                    if journal:
                        journal.sent("answer", answer, True, fault="duplicate")
            if faults.orphan_rate and rng.random() < faults.orphan_rate:
                orphan = self._orphan(now)
                answers.append(orphan.payload)
                if journal:
                    journal.sent("answer", orphan, False, fault="orphan")
            session.messages += 1
            if faults.drop_after and session.messages >= faults.drop_after:
                # The rest of this read stays unanswered: the client sees them lost mid-flight.
                close_after = True
                break
        if heartbeats:
            self.stats.heartbeats_received += heartbeats
            self.stats.heartbeats_sent += heartbeats
            session.send([_HEARTBEAT] * heartbeats)
        data = self._frames(answers)
        if journal:
            if close_after:
                journal.dropped()
            journal.flush()
        if delayed:
            session.send_later(faults.ack_delay_ms / 1000, data, close_after, journal)
        else:
            session.write(data, close_after)

    def _respond_plainly(self, session: _Session, payloads: list[bytes]) -> None:
        """`respond` with every message accepted: the same answers, none of them built here."""
        now = datetime.datetime.now(datetime.UTC)
        data, duplicates, refused = self._book.accept(payloads, now)
        if refused:
            rejects = [self._malformed(payload, now, why).payload for payload, why in refused]
            data += encode_frames(rejects, self.config.framing)
        heartbeats = payloads.count(_HEARTBEAT)
        messages = len(payloads) - heartbeats
        stats = self.stats
        session.messages += messages
        stats.received += messages - len(refused)
        stats.malformed += len(refused)
        stats.duplicates += duplicates
        if heartbeats:
            stats.heartbeats_received += heartbeats
            stats.heartbeats_sent += heartbeats
            session.send([_HEARTBEAT] * heartbeats)
        if data:
            stats.answers_sent += messages
            session.write(data, False)

    def _frames(self, answers: list[bytes]) -> bytes:
        """The answers of one read as one buffer, shuffled and garbled as the faults say."""
        if not answers:
            return b""
        faults = self.config.faults
        if faults.shuffle:
            self._rng.shuffle(answers)
        self.stats.answers_sent += len(answers)
        data = encode_frames(answers, self.config.framing)
        if faults.garbage_every:
            # One garbage frame each time another `garbage_every` answers have gone out.
            self._answers_until_garbage -= len(answers)
            if self._answers_until_garbage <= 0:
                self._answers_until_garbage = faults.garbage_every
                data += self._garbage
        return data

    def _answer(self, payload: bytes, now: datetime.datetime) -> tuple[_Answer, bool]:
        """The answer to one payload and whether its MsgId was seen before."""
        try:
            summary = parse_pacs008_summary(payload)
        except ValueError as exc:
            self.stats.malformed += 1
            return self._malformed(payload, now, str(exc)), False
        self.stats.received += 1
        msg_id = summary.msg_id
        known = self._book.known(msg_id)
        if known is not None:
            self.stats.duplicates += 1
            return _Answer.sent_before(known), True
        answer = self._status_report(
            now, msg_id, summary.uetr, self.config.rules.decide(summary, self._rng)
        )
        self._book.remember(msg_id, answer.payload)
        return answer, False

    def _status_report(
        self, now: datetime.datetime, msg_id: str, uetr: str, decision: Decision
    ) -> _Answer:
        """A new pacs.002 answering `msg_id` as decided, under the book's next number."""
        body = build_pacs002(
            msg_id=self._book.next_msg_id(),
            created_at=now,
            original_msg_id=msg_id,
            original_uetr=uetr,
            status=decision.status,
            reason_code=decision.reason_code,
            reason_text=decision.reason_text,
        )
        return _Answer(body, msg_id, uetr, decision.status, decision.reason_code, "pacs.002")

    def _malformed(self, payload: bytes, now: datetime.datetime, why: str) -> _Answer:
        found = _MSG_ID.search(payload)
        guessed = [found.group(1).decode("utf-8", "replace")] if found else []
        # The parser's message may quote the payload's own characters (a tag's name), controls
        # included, which an admi.002's text may not carry.
        reason_text = defanged(why)[:105]
        # What looks like the MsgId of a payload that did not parse may be nothing an admi.002
        # can carry (a raw tab, say): then the reject names no message rather than failing.
        for related in (*guessed, NOT_PROVIDED):
            try:
                body = build_admi002(
                    related_ref=related, created_at=now, reason_code="FF01", reason_text=reason_text
                )
            except InvalidMessage:
                continue
            return _Answer(body, related, None, "RJCT", "FF01", "admi.002")
        raise AssertionError("an admi.002 naming no message is always valid")

    def _orphan(self, now: datetime.datetime) -> _Answer:
        self._orphan_seq += 1
        msg_id = f"ORPHAN{self._orphan_seq:010d}"
        uetr = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        return self._status_report(now, msg_id, uetr, ACCEPTED)


class _Session(asyncio.Protocol):
    """One client connection of the receiver."""

    def __init__(self, receiver: Receiver, conn_id: str) -> None:
        self.conn_id = conn_id
        self.messages = 0
        self._receiver = receiver
        self._decoder = FrameDecoder(receiver.config.framing, receiver.config.max_frame_bytes)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._delayed: collections.deque[asyncio.TimerHandle] = collections.deque()
        self._heartbeat: asyncio.TimerHandle | None = None
        self._last_io = self._loop.time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport implements asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._receiver._sessions.add(self)
        heartbeat_s = self._receiver.config.faults.heartbeat_s
        if heartbeat_s:
            self._heartbeat = self._loop.call_later(heartbeat_s, self._idle_heartbeat)

    def data_received(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._last_io = self._loop.time()
        try:
            payloads = self._decoder.feed(data)
        except FramingError as exc:
            log.warning("connection %s: framing error, closing: %s", self.conn_id, exc)
            self.abort()
            return
        if payloads:
            self._receiver.respond(self, payloads)

    # A client that sends and never reads: it is not read either while what it was sent waits
    # to leave, or its answers and heartbeat echoes would pile up here without bound.
    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def send(self, payloads: list[bytes]) -> None:
        self.write(encode_frames(payloads, self._receiver.config.framing), False)

    def write(self, data: bytes, close_after: bool) -> bool:
        """Whether the connection was still there to take `data`."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if data:
            transport.write(data)
            self._last_io = self._loop.time()
        if close_after:
            transport.close()
        return True

    def send_later(
        self, delay_s: float, data: bytes, close_after: bool, journal: _Journal | None
    ) -> None:
        # One delay for all, so the handles fire in the order they were queued.
        self._delayed.append(
            self._loop.call_later(delay_s, self._send_delayed, data, close_after, journal)
        )

    def _send_delayed(self, data: bytes, close_after: bool, journal: _Journal | None) -> None:
        self._delayed.popleft()
        if self.write(data, close_after) and journal is not None:
            journal.written(datetime.datetime.now(datetime.UTC).isoformat())

    def _idle_heartbeat(self) -> None:
        heartbeat_s = self._receiver.config.faults.heartbeat_s
        idle = self._loop.time() - self._last_io
        if idle >= heartbeat_s:
            self._receiver.stats.heartbeats_sent += 1
            self.send([_HEARTBEAT])
            idle = 0.0
        self._heartbeat = self._loop.call_later(heartbeat_s - idle, self._idle_heartbeat)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._receiver._sessions.discard(self)
        self._transport = None
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()


class _Journal:
    """The message-log lines of one read: one time stamp and connection for all of them. With
    the answers held back (`--ack-delay-ms`) the lines of what is sent (answers, the close after
    them) wait for the write (`written`): a connection that ends first never got them."""

    __slots__ = ("_conn", "_held", "_log", "_stamp")

    def __init__(self, log_: MessageLog, stamp: str, conn: str, *, held: bool) -> None:
        self._log = log_
        self._stamp = stamp
        self._conn = conn
        self._held: list[dict[str, Any]] | None = [] if held else None

    def received(self, answer: _Answer, duplicate: bool) -> None:
        kind = "malformed" if answer.doc == "admi.002" else "pacs.008"
        self._line("received", answer.msg_id, answer.uetr, kind, None, duplicate)

    def sent(self, event: str, answer: _Answer, duplicate: bool, fault: str | None = None) -> None:
        self._line(
            event, answer.msg_id, answer.uetr, answer.kind, answer.status, duplicate,
            reason_code=answer.reason_code, doc=answer.doc, fault=fault,
        )  # fmt: skip

    def dropped(self) -> None:
        self._line("dropped", None, None, None, None, False)

    def flush(self) -> None:
        self._log.flush()

    def written(self, stamp: str) -> None:
        """The held lines, now that what they tell of was written (at `stamp`)."""
        for fields in self._held or ():
            self._log.record(**{**fields, "time": stamp})
        self._log.flush()

    def _line(
        self,
        event: str,
        msg_id: str | None,
        uetr: str | None,
        kind: str | None,
        status: str | None,
        duplicate: bool,
        **more: str | None,
    ) -> None:
        fields = dict(
            time=self._stamp, event=event, conn=self._conn, msg_id=msg_id, uetr=uetr,
            kind=kind, status=status, duplicate=duplicate, **more,
        )  # fmt: skip
        if self._held is not None and event in _WRITTEN_EVENTS:
            self._held.append(fields)
        else:
            self._log.record(**fields)


# The message-log events that tell of bytes sent (or of the close after them), not of a decision.
_WRITTEN_EVENTS = frozenset({"answer", "dropped"})


def _garbage_frame(framing: str, kind: str) -> bytes:
    if kind == "payload":
        return encode_frame(b"\x00this is not an ISO 20022 document\xff", framing)
    if framing == "ascii4":
        return b"GARB"
    if framing == "u16be":
        return b"\xff\xff" + b"\xa5" * 0xFFFF
    return b"\xff\xff\xff\xff"
