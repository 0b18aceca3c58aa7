"""Where a command's report goes: a file, or standard output, written in chunks as they come;
and the day a report is about.

A file is written beside itself and put in place only when the report is complete: a failure
half-way (the database went away) leaves the previous report as it was, not a truncated one. A
reader that stops early (`paywire … | head`) is not an error of paywire's, but the report's own
exit code (1: what it found) is not known then, so it exits 2 (`cli`): not checked.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import uvloop

from paywire.domain.validation import iso_date, report_day_problem
from paywire.errors import ConfigError

Produce = Callable[[BinaryIO], Coroutine[Any, Any, int]]
# A new report file's mode: the owner's alone.
REPORT_MODE = 0o600


def utc_day(text: str) -> date:
    """A report's `--date`: argparse names the option and shows this when it refuses."""
    day = iso_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: write YYYY-MM-DD")
    return day


def check_report_day(day: date) -> None:
    """Refuse a `--date` whose report cannot be made yet (`validation.report_day_problem`)."""
    problem = report_day_problem(day, datetime.now(UTC).date())
    if problem is not None:
        raise ConfigError(f"--date {day.isoformat()} {problem}")


def write_report(path: Path | None, produce: Produce) -> int:
    """Run `produce` with the open output; its result is the exit code."""
    if path is not None:
        return _to_file(path, produce)
    code = uvloop.run(produce(sys.stdout.buffer))
    sys.stdout.buffer.flush()
    return code


def _to_file(path: Path, produce: Produce) -> int:
    """A report (audit rows, payments) is readable by its owner alone, as a new file, or keeps
    the mode of the file it replaces; a symlink is followed, not replaced by a file."""
    target = path.resolve()
    if target.is_dir():
        raise ConfigError(f"cannot write the report to {path}: it is a directory")
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else REPORT_MODE
    partial = target.with_name(f".{target.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # whatever the umask, or a partial file left with another mode
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            code = uvloop.run(produce(out))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return code
