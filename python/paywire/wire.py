"""Public face of the Rust wire core (framing, pacs.008, answers): import it from here.

One import point for the whole gateway; the types are in `_wire.pyi`, which mypy reads.
"""

from paywire._wire import (
    Answer,
    AnswerBook,
    AnswerError,
    FrameDecoder,
    FramingError,
    InvalidMessage,
    Pacs008Summary,
    build_admi002,
    build_pacs002,
    build_pacs008,
    encode_frame,
    encode_frames,
    minor_digits,
    parse_answer,
    parse_pacs008_summary,
)

# ISO 20022's value for a reference the sender does not have (an end-to-end id the payer did
# not give, the message an unreadable payload would have named).
NOT_PROVIDED = "NOTPROVIDED"

__all__ = [
    "NOT_PROVIDED",
    "Answer",
    "AnswerBook",
    "AnswerError",
    "FrameDecoder",
    "FramingError",
    "InvalidMessage",
    "Pacs008Summary",
    "build_admi002",
    "build_pacs002",
    "build_pacs008",
    "encode_frame",
    "encode_frames",
    "minor_digits",
    "parse_answer",
    "parse_pacs008_summary",
]
