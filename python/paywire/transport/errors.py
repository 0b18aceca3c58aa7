"""Errors of the TLS transport: a connection that could not be made, and a message left unanswered.

`Unanswered.reason` tells the pipeline why, so it can resend the same bytes later.
"""

from __future__ import annotations

from typing import Literal

from paywire.errors import PaywireError

# Why a connection attempt failed or a live connection was given up; these are also the `reason`
# labels of `tls_connection_errors_total`.
FailureReason = Literal["connect", "tls", "pin", "protocol", "lost", "heartbeat", "stalled"]

UnansweredReason = Literal["timeout", "connection_lost", "breaker_open", "no_room", "closed"]


class TransportError(PaywireError):
    """A TLS connection to the receiver failed; `reason` is one of `FailureReason`."""

    code = "TRANSPORT"

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason


class Unanswered(PaywireError):
    """A message got no ACK or NACK; the caller may resend the same bytes with the same MsgId.

    For "timeout" and "connection_lost" the receiver may have seen the message, and for
    "closed" too (the pool or connection closed, before or after it was written); only for
    "breaker_open" and "no_room" was it certainly never written.
    """

    code = "UNANSWERED"

    def __init__(self, reason: UnansweredReason, msg_id: str | None = None) -> None:
        about = f" for {msg_id}" if msg_id is not None else ""
        super().__init__(f"no answer{about}: {reason}")
        self.reason: UnansweredReason = reason
        self.msg_id = msg_id
