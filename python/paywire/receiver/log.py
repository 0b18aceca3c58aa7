"""The receiver's message log: one JSON object per line for every message received and answer sent.

Chaos tests read it to check invariants (every settled payment was answered, answers never change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from paywire.errors import ConfigError


class MessageLog:
    """Appends records to a file; lines are buffered per read and flushed together."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")
        except OSError as exc:
            raise ConfigError(
                f"cannot open the message log {path}: {exc.strerror or exc}; choose a writable file"
            ) from None
        self._lines: list[bytes] = []

    def record(self, **fields: Any) -> None:
        self._lines.append(orjson.dumps(fields))

    def flush(self) -> None:
        if self._lines:
            self._lines.append(b"")
            self._file.write(b"\n".join(self._lines))
            self._file.flush()
            self._lines = []

    def close(self) -> None:
        self.flush()
        self._file.close()
