"""A one-line progress bar on the terminal for long commands (`bench`, `audit verify`); silent
when standard error is not a terminal, so scripts and logs get only the result.

Redrawn at most ten times a second, so drawing costs nothing measurable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr) -> None:
        self._label = label
        self._total = max(total, 1)
        self._stream = stream
        self._enabled = stream.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def update(self, done: int, total: int | None = None) -> None:
        """`total` when it is learnt only once the work has begun."""
        if total is not None:
            self._total = max(total, 1)
        now = time.monotonic()
        if not self._enabled or (now - self._drawn_at < 0.1 and done < self._total):
            return
        self._drawn_at = now
        width = 30
        filled = width * min(done, self._total) // self._total
        rate = done / max(now - self._started, 1e-9)
        self._stream.write(
            f"\r{self._label:<10} [{'#' * filled}{' ' * (width - filled)}] "
            f"{done:>9,}/{self._total:,}  {rate:>9,.0f}/s"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()
