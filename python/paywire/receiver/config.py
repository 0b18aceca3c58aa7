"""What a reference receiver is told at start: where to listen, TLS, framing, rules and faults.

Frozen values built by the `paywire receiver` command or directly by tests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from paywire.config import DEFAULT_MAX_FRAME_BYTES
from paywire.errors import ConfigError
from paywire.receiver.rules import Rules

GarbageKind = Literal["header", "payload"]


@dataclasses.dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour on purpose, for tests and chaos runs; all off by default."""

    ack_delay_ms: float = 0.0  # hold every answer this long
    drop_after: int = 0  # close a connection after answering this many messages on it
    garbage_every: int = 0  # after every N answers, one garbage frame
    # "header": an impossible frame header (a framing error for u32be and ascii4; with u16be,
    # whose every header is valid, a 65535-byte junk frame); "payload": a well-framed junk payload.
    garbage_kind: GarbageKind = "header"
    no_answer_rate: float = 0.0  # answers withheld (the decision is kept for a resend)
    duplicate_rate: float = 0.0  # answers sent twice
    orphan_rate: float = 0.0  # extra answers naming a MsgId never received
    shuffle: bool = False  # answers of one read leave in random order
    heartbeat_s: float = 0.0  # send our own heartbeat after this long idle; 0: only answer


@dataclasses.dataclass(frozen=True, slots=True)
class ReceiverConfig:
    cert_file: Path
    key_file: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; Receiver.port tells which
    client_ca_file: Path | None = None  # set: clients must present a certificate from this CA
    tls_min_version: str = "1.2"
    framing: str = "u32be"
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    rules: Rules = dataclasses.field(default_factory=Rules)
    faults: Faults = dataclasses.field(default_factory=Faults)
    seed: int | None = None
    log_file: Path | None = None
    # MsgIds remembered for de-duplication: at least this many, at most twice as many.
    dedup_capacity: int = 1_000_000


def check_port(port: int) -> None:
    """Refuse a port no socket can have, which asyncio would only find at bind time (with an
    OverflowError): `paywire receiver` asks before it makes certificates for the server."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not a TCP port (0-65535)")
