"""Typed face of the native module built from `rust/`.

Import it through `paywire.wire`; this stub is what mypy and editors see.
"""

import datetime
from decimal import Decimal
from typing import Literal, final

class FramingError(ValueError):
    """A frame header that is oversize or malformed: the stream cannot be trusted any more."""

class InvalidMessage(ValueError):
    """A field that cannot be represented in a valid pacs.008; `field` names it."""

    field: str

class AnswerError(ValueError):
    """A payload that is neither a usable pacs.002.001.10 nor an admi.002.001.01."""

def encode_frame(payload: bytes, framing: str = "u32be") -> bytes: ...
def encode_frames(payloads: list[bytes], framing: str = "u32be") -> bytes: ...
@final
class FrameDecoder:
    def __init__(self, framing: str = "u32be", max_frame_bytes: int = 1048576) -> None: ...
    def feed(self, data: bytes) -> list[bytes]: ...
    @property
    def buffered(self) -> int: ...

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
) -> bytes: ...
@final
class Answer:
    @property
    def kind(self) -> Literal["ACK", "NACK"]: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def uetr(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def reason_code(self) -> str | None: ...
    @property
    def reason_text(self) -> str | None: ...

def parse_answer(payload: bytes) -> Answer: ...
@final
class Pacs008Summary:
    @property
    def msg_id(self) -> str: ...
    @property
    def uetr(self) -> str: ...
    @property
    def end_to_end_id(self) -> str: ...
    @property
    def amount(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def creditor_agent_bic(self) -> str: ...

def parse_pacs008_summary(payload: bytes) -> Pacs008Summary: ...
def build_pacs002(
    *,
    msg_id: str,
    created_at: datetime.datetime,
    original_msg_id: str,
    original_uetr: str | None,
    status: str,
    reason_code: str | None = None,
    reason_text: str | None = None,
) -> bytes: ...
def build_admi002(
    *,
    related_ref: str,
    created_at: datetime.datetime,
    reason_code: str,
    reason_text: str | None = None,
) -> bytes: ...
def minor_digits(currency: str) -> int: ...
