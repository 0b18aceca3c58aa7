"""Where a command's report goes: a file, or standard output, written in chunks as they come.

A reader that stops early (`paywire … | head`) is not an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, BinaryIO

import uvloop

Produce = Callable[[BinaryIO], Coroutine[Any, Any, int]]


def write_report(path: Path | None, produce: Produce) -> int:
    """Run `produce` with the open output; its result is the exit code."""
    if path is not None:
        with path.open("wb") as out:
            return uvloop.run(produce(out))
    try:
        code = uvloop.run(produce(sys.stdout.buffer))
        sys.stdout.buffer.flush()
        return code
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail too (as the
        # Python docs advise).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
