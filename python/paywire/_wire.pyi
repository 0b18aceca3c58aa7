"""Typed face of the native module built from `rust/`.

Import it through `paywire.wire`; this stub is what mypy and editors see.
"""

import datetime
from decimal import Decimal
from typing import Literal, final

class FramingError(ValueError):
    """A frame header that is oversize or malformed: the stream cannot be trusted any more.

    From `FrameDecoder.feed`, `frames` holds the frames completed before the bad header in that
    same call (empty when it came first, or when the decoder had already failed)."""

    frames: list[bytes]

class InvalidMessage(ValueError):
    """A field that cannot be represented in a valid ISO 20022 message (a pacs.008, or an
    answer the reference receiver builds); `field` names it."""

    field: str

class AnswerError(ValueError):
    """A payload that is neither a usable pacs.002.001.10 nor an admi.002.001.01."""

def encode_frame(payload: bytes, framing: str = "u32be") -> bytes:
    """Header and payload in one `bytes`.

    Framings: `u32be`, `u16be` (payload ≤ 65535), `ascii4` (payload ≤ 9999). A payload too
    large for the framing raises `FramingError`; an unknown framing raises `ValueError`.
    """

def encode_frames(payloads: list[bytes], framing: str = "u32be") -> bytes:
    """Every payload framed, back to back, in one buffer for one write."""

@final
class FrameDecoder:
    """Incremental de-framer for one connection's byte stream.

    A header announcing more than `max_frame_bytes`, or an `ascii4` header with a non-digit,
    raises `FramingError`, whose `frames` are those completed earlier in that same call; the
    decoder then refuses all further input (raises again).
    """

    def __init__(self, framing: str = "u32be", max_frame_bytes: int = 1048576) -> None: ...
    def feed(self, data: bytes) -> list[bytes]:
        """Every frame completed by `data`, in order; `b""` is a heartbeat."""

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""

def build_pacs008(
    *,
    msg_id: str,
    created_at: datetime.datetime,
    instr_id: str,
    end_to_end_id: str,
    uetr: str,
    amount: str | Decimal,
    currency: str,
    value_date: datetime.date,
    instructing_bic: str,
    instructed_bic: str,
    debtor_name: str,
    debtor_account: str,
    debtor_agent_bic: str,
    creditor_name: str,
    creditor_account: str,
    creditor_agent_bic: str,
    remittance_info: str | None = None,
) -> bytes:
    """One pacs.008.001.08 document (SPEC §4 mapping), valid against the XSD.

    `created_at` must be timezone-aware (rendered in UTC); `value_date` a `date`, not a
    `datetime`; `amount` is rendered with exactly the currency's ISO 4217 minor digits and is
    refused if that would drop a non-zero digit. Anything that cannot be represented raises
    `InvalidMessage` with `field` set to the parameter name; nothing is truncated.
    """

@final
class Answer:
    """A receiver's verdict on one message, read from a pacs.002 or an admi.002."""

    @property
    def kind(self) -> Literal["ACK", "NACK"]: ...
    @property
    def msg_id(self) -> str:
        """The `MsgId` of the pacs.008 the answer is about: 1 to 35 characters, as every MsgId
        paywire sends (ISO 20022 `Max35Text`)."""

    @property
    def uetr(self) -> str | None:
        """`OrgnlUETR` when present, in lower case (as `str(uuid)` writes it, whatever case the
        receiver used); the caller checks it against the message's UETR."""

    @property
    def status(self) -> str:
        """`ACTC`, `ACCP`, `ACSP`, `ACSC`, `ACWC` (ACK) or `RJCT` (NACK, and every admi.002)."""

    @property
    def reason_code(self) -> str | None: ...
    @property
    def reason_text(self) -> str | None: ...
    @property
    def payload(self) -> bytes:
        """The payload it was read from, the same object: answers are stored as received."""

def parse_answer(payload: bytes) -> Answer:
    """Reads one answer frame; anything that is not a usable answer raises `AnswerError`.

    Unusable includes an original MsgId that is not a `Max35Text` (it names no message paywire
    could have sent) and an `OrgnlUETR` that is not a version-4 UUID.
    """

@final
class Pacs008Summary:
    """What the reference receiver needs from one pacs.008."""

    @property
    def msg_id(self) -> str: ...
    @property
    def uetr(self) -> str: ...
    @property
    def end_to_end_id(self) -> str: ...
    @property
    def amount(self) -> str:
        """`IntrBkSttlmAmt` as written, a decimal string."""

    @property
    def currency(self) -> str: ...
    @property
    def creditor_agent_bic(self) -> str: ...

def parse_pacs008_summary(payload: bytes) -> Pacs008Summary:
    """Reads a pacs.008.001.08 for the reference receiver.

    Raises `InvalidMessage` (not `AnswerError`: the payload is a message, not an answer) with
    `field` naming the summary attribute that is missing or invalid, or `"document"` when the
    payload as a whole is unreadable (not XML, a DOCTYPE, another namespace, two transactions).
    """

def build_pacs002(
    *,
    msg_id: str,
    created_at: datetime.datetime,
    original_msg_id: str,
    original_uetr: str | None,
    status: str,
    reason_code: str | None = None,
    reason_text: str | None = None,
) -> bytes:
    """A pacs.002.001.10 answering one pacs.008; `InvalidMessage` names a bad field.

    A `reason_code` of up to 4 characters goes in `Rsn/Cd`, a longer one (≤ 35) in `Rsn/Prtry`.
    """

def build_admi002(
    *,
    related_ref: str,
    created_at: datetime.datetime,
    reason_code: str,
    reason_text: str | None = None,
) -> bytes:
    """An admi.002.001.01 rejecting message `related_ref`; `InvalidMessage` names a bad field."""

@final
class AnswerBook:
    """The reference receiver's answers: numbered, remembered per MsgId, and, for a read of
    messages that are all to be accepted, written in one call.

    MsgIds of answers are `prefix` plus a 12-digit sequence. At least `capacity` answers are
    remembered, at most twice as many (two generations), so a resend gets the same bytes.
    """

    def __init__(self, prefix: str, capacity: int, framing: str = "u32be") -> None: ...
    def next_msg_id(self) -> str:
        """The MsgId of the next answer, for one built with `build_pacs002`."""

    def known(self, msg_id: str) -> bytes | None:
        """The answer already sent for `msg_id`, while it is remembered."""

    def remember(self, msg_id: str, answer: bytes) -> None: ...
    def accept(
        self, payloads: list[bytes], created_at: datetime.datetime
    ) -> tuple[bytes, int, list[tuple[bytes, str]]]:
        """Answers every pacs.008 in `payloads` with a pacs.002 `ACSP`, or with the answer sent
        before for its MsgId, framed into one buffer; heartbeats (`b""`) are left to the caller.

        Returns the framed answers, how many were answers sent before, and each payload that
        is not a readable pacs.008 with the reason `parse_pacs008_summary` would give.
        """

def minor_digits(currency: str) -> int:
    """ISO 4217 minor digits of an active currency (EUR 2, JPY 0, BHD 3); `ValueError` otherwise."""
