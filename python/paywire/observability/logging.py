"""Structured application logs: one JSON object per line, to stdout and a file per UTC day;
on the console, prose lines instead for a command whose own output is prose (`paywire demo`).

The request id comes from a context variable, a payment id from the record's `extra`; account
numbers and secrets are masked here, once, so no caller has to remember to.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

import orjson

from paywire.config import Settings
from paywire.domain.validation import defanged
from paywire.errors import ConfigError

request_id_var: ContextVar[str | None] = ContextVar("paywire_request_id", default=None)

RETENTION_DAYS = 30
FILE_PREFIX = "application-"
FILE_SUFFIX = ".log"

# An IBAN-like account number: country code, check digits, 11-30 alphanumerics, optionally
# printed in groups of four. Masking keeps only the last four characters.
_ACCOUNT_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# Basic credentials (base64 of user:password) where an Authorization header is written out; not
# "basic" anywhere, a word prose uses.
_BASIC_RE = re.compile(r"(?i)\b(authorization[\"']?\s*[=:]\s*[\"']?basic)\s+[A-Za-z0-9+/=]+")
_URL_PASSWORD_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@")
# Also when the word ends a longer name: `sslpassword=` in a DSN, `client_secret=`; and with the
# name quoted, as JSON and a dict's repr write it: `"password": "…"`. A quoted value ends at its
# first unescaped quote (JSON and repr() escape one inside it), or with the text if cut short.
_KEY_VALUE_SECRET_RE = re.compile(
    r"(?i)\b(\w*(?:password|passwd|secret|token|api[_-]?key))([\"']?\s*[=:]\s*)"
    r"(\"(?:\\[\s\S]|[^\"\\])*(?:\"|\\?\Z)|'(?:\\[\s\S]|[^'\\])*(?:'|\\?\Z)|[^\s,;&]+)"
)
# Field names whose values are never written, whatever they hold ...
_SECRET_KEY_RE = re.compile(r"(?i)pass(word|wd)?|secret|token|authori[sz]ation|cookie|api[_-]?key")
# ... unless the name ends in a unit of time or a count: such a field says how long or how many
# (`token_ttl_s`, `password_changed_at`), never what the secret is.
_MEASURE_KEY_RE = re.compile(r"(?i)_(?:s|ms|at|count)$")
_ACCOUNT_KEY_RE = re.compile(r"(?i)account|iban")
_REDACTED = "***"
_QUOTED = re.compile(r'[\s="]')
_CONSOLE_HANDLER = "paywire.console"
_FILE_HANDLER = "paywire.file"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class Throttled:
    """Logs an event of a kind at once, then at most once per `every_s`, with how many of that
    kind went unlogged in between. For what a peer can cause by the thousand a second (junk
    frames, answers naming no message): a metric counts each one, and the log, written on the
    event loop, must not become the peer's echo."""

    def __init__(
        self,
        logger: logging.Logger,
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._every_s = every_s
        self._clock = clock
        # kind → (when the next may be logged, how many went unlogged since the last)
        self._kinds: dict[str, tuple[float, int]] = {}

    def warning(
        self, kind: str, msg: str, *args: object, extra: Mapping[str, object] | None = None
    ) -> None:
        now = self._clock()
        due, unlogged = self._kinds.get(kind, (now, 0))
        if now < due:
            self._kinds[kind] = (due, unlogged + 1)
            return
        self._kinds[kind] = (now + self._every_s, 0)
        if unlogged:
            extra = {**(extra or {}), "unlogged": unlogged}
        self._logger.warning(msg, *args, extra=extra)


def mask_account(value: str) -> str:
    """All but the last four characters of an account number replaced by `*`."""
    compact = value.replace(" ", "")
    return "*" * max(len(compact) - 4, 0) + compact[-4:]


def scrub_text(text: str) -> str:
    """Free text with account numbers masked and credentials that look like one removed."""
    text = _URL_PASSWORD_RE.sub(lambda m: f"{m.group(1)}:{_REDACTED}@", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {_REDACTED}", text)
    text = _BASIC_RE.sub(lambda m: f"{m.group(1)} {_REDACTED}", text)
    text = _KEY_VALUE_SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
    return _ACCOUNT_RE.sub(lambda m: mask_account(m.group(0)), text)


def scrub_value(key: str, value: Any) -> Any:
    """A structured field made safe to log, judged by its name first and its content second."""
    if _SECRET_KEY_RE.search(key) and not _MEASURE_KEY_RE.search(key):
        return _REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(key, v) for v in value]
    if isinstance(value, str):
        return mask_account(value) if _ACCOUNT_KEY_RE.search(key) else scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record with time, level, logger, message and the context ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
            "request_id": request_id_var.get(),
        }
        for key, value in _context(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = scrub_text(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class PlainFormatter(logging.Formatter):
    """A record as a person at a terminal reads it (`demo: warning: … payment_id=…`), masked as
    the JSON lines are: for commands whose own output is prose, where a JSON object would read as
    noise. Its fields follow the message, which alone would not say which payment or message it
    is about, quoted when they hold a blank or `=`, so that a value cannot pass for another
    field; what could draw on the terminal (line breaks, escape sequences, bidirectional
    overrides) is defanged as a counterparty's text is shown everywhere else."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        fields = "".join(f" {key}={_plain(value)}" for key, value in _context(record).items())
        lines = [f"{record.levelname.lower()}: {scrub_text(record.getMessage())}{fields}"]
        if record.exc_info:
            lines += scrub_text(self.formatException(record.exc_info)).splitlines()
        return "\n".join(self._prefix + defanged(line) for line in lines)


def _plain(value: Any) -> str:
    if not isinstance(value, str):
        return orjson.dumps(value, default=str).decode()
    return orjson.dumps(value).decode() if not value or _QUOTED.search(value) else value


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """What a record says beyond its message, masked: its payment id and the fields of its
    `extra=`."""
    fields: dict[str, Any] = {}
    payment_id = getattr(record, "payment_id", None)
    if payment_id is not None:
        fields["payment_id"] = str(payment_id)
    for key, value in record.__dict__.items():
        if key not in _STANDARD_ATTRS and key not in fields:
            fields[key] = scrub_value(key, value)
    return fields


def log_file_name(day: dt.date) -> str:
    return f"{FILE_PREFIX}{day.isoformat()}{FILE_SUFFIX}"


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DailyFileHandler(logging.Handler):
    """Writes to `application-YYYY-MM-DD.log` for the current UTC day and starts a new file when
    the day changes, removing files older than the retention period."""

    def __init__(
        self,
        directory: Path,
        *,
        retention_days: int = RETENTION_DAYS,
        today: Callable[[], dt.date] = _utc_today,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.retention_days = retention_days
        self._today = today
        self._day: dt.date | None = None
        self._stream: IO[str] | None = None

    def open(self) -> None:
        """Open today's file now, so that a directory it cannot write to is refused at start
        rather than reported on every record after."""
        self._stream_for(self._today())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self._stream_for(self._today())
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
                self._day = None
        finally:
            self.release()
        super().close()

    def _stream_for(self, day: dt.date) -> IO[str]:
        if self._stream is None or day != self._day:
            if self._stream is not None:
                self._stream.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            self._day = day
            self._stream = (self.directory / log_file_name(day)).open("a", encoding="utf-8")
            self.prune(day)
        return self._stream

    def prune(self, today: dt.date) -> None:
        prune_log_files(self.directory, today, self.retention_days)


def prune_log_files(directory: Path, today: dt.date, retention_days: int = RETENTION_DAYS) -> int:
    """Delete day files dated more than `retention_days` before `today`; returns how many. The
    handler prunes when it opens a day's file; the retention job also for quiet processes."""
    removed = 0
    oldest_kept = today - dt.timedelta(days=retention_days)
    for path in directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"):
        stem = path.name[len(FILE_PREFIX) : -len(FILE_SUFFIX)]
        try:
            day = dt.date.fromisoformat(stem)
        except ValueError:
            continue
        if day < oldest_kept:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def configure_logging(
    settings: Settings,
    *,
    level: str | None = None,
    stream: IO[str] | None = None,
    console_formatter: logging.Formatter | None = None,
) -> None:
    """Send log records, as JSON lines, to `stream` (stdout) and the daily file in
    `settings.log_dir`. Calling it again replaces the handlers it installed before.

    `level` (default `settings.log_level`) is the least severe record written, paywire's or a
    library's; never below INFO (docs/CONFIGURATION.md says why). `console_formatter` writes
    the stream's lines otherwise; the file keeps JSON, which is what its readers parse."""
    formatter = JsonFormatter()
    console = logging.StreamHandler(stream if stream is not None else sys.stdout)
    console.set_name(_CONSOLE_HANDLER)
    console.setFormatter(console_formatter or formatter)
    daily = DailyFileHandler(settings.log_dir)
    try:
        daily.open()
    except OSError as exc:
        raise ConfigError(
            f"{settings.named_value('log_dir')}: cannot write the day's log file there: "
            f"{exc.strerror or exc}"
        ) from None
    daily.set_name(_FILE_HANDLER)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() in (_CONSOLE_HANDLER, _FILE_HANDLER):
            root.removeHandler(handler)
            handler.close()
    daily.setFormatter(formatter)
    for handler in (console, daily):
        root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    # aiohttp's access log would repeat what the timing middleware already logs, in prose.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
