"""Structured logging: JSON lines with context ids, masked accounts, no secrets, daily files."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from paywire.config import Settings, load_settings
from paywire.errors import ConfigError
from paywire.observability.logging import (
    DailyFileHandler,
    JsonFormatter,
    PlainFormatter,
    Throttled,
    configure_logging,
    log_file_name,
    mask_account,
    request_id_var,
)
from tests.fixtures.settings import given_each_way

IBAN = "DE89370400440532013000"


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("paywire.test.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_line_has_time_level_logger_message_and_context_ids(capture) -> None:
    logger, stream = capture
    token = request_id_var.set("req-123")
    try:
        logger.warning("hello %s", "world", extra={"payment_id": "pay-9"})
        logger.info("outside")
    finally:
        request_id_var.reset(token)
    first, second = lines(stream)
    assert first["message"] == "hello world"
    assert first["level"] == "WARNING"
    assert first["logger"] == "paywire.test.logging"
    assert first["request_id"] == "req-123"
    assert first["payment_id"] == "pay-9"
    assert dt.datetime.fromisoformat(str(first["time"])).tzinfo is not None
    assert "payment_id" not in second


def test_request_id_is_null_outside_a_request(capture) -> None:
    logger, stream = capture
    logger.info("background work")
    assert lines(stream)[0]["request_id"] is None


def test_account_numbers_are_masked_except_last_four(capture) -> None:
    logger, stream = capture
    logger.info("debit %s now", IBAN, extra={"debtor_account": IBAN, "note": f"to {IBAN}"})
    logger.info("grouped DE89 3704 0044 0532 0130 00 too")
    first, second = lines(stream)
    masked = mask_account(IBAN)
    assert masked == "*" * 18 + "3000"
    assert first["message"] == f"debit {masked} now"
    assert first["debtor_account"] == masked
    assert first["note"] == f"to {masked}"
    assert IBAN not in json.dumps(first)
    assert "0532" not in str(second["message"])
    assert str(second["message"]).endswith("3000 too")


def test_secrets_never_reach_the_log(capture) -> None:
    logger, stream = capture
    logger.info(
        "login password=hunter2-secret with Authorization: Bearer tok_abcdef123 to "
        "postgresql://paywire:db-pass-42@localhost/paywire?sslpassword=key-pass-7"
        " client_secret=cs-99",
        extra={
            "password": "hunter2-secret",
            "headers": {"Authorization": "Bearer tok_abcdef123", "Accept": "json"},
            "token": "tok_abcdef123",
        },
    )
    try:
        raise RuntimeError("failed with token=tok_abcdef123")
    except RuntimeError:
        logger.exception("boom")
    # A body or a dict written into a message: its keys quoted, as JSON and repr() write them.
    logger.warning(
        """refused {"username": "alice", "password": "json-pass-1"} and"""
        """ {'api_key': 'repr-key-2'} with Authorization: Basic YWxpY2U6YmFzaWMtMw=="""
    )
    text = stream.getvalue()
    secrets = ("hunter2-secret", "tok_abcdef123", "db-pass-42", "key-pass-7", "cs-99")
    for secret in (*secrets, "json-pass-1", "repr-key-2", "YWxpY2U6YmFzaWMtMw=="):
        assert secret not in text
    assert '"username": "alice"' in lines(stream)[-1]["message"], "what is no secret is kept"
    first = lines(stream)[0]
    assert first["headers"] == {"Authorization": "***", "Accept": "json"}
    assert "postgresql://paywire:***@localhost/paywire" in str(first["message"])


def test_a_quoted_secret_is_hidden_whole_past_escaped_quotes_and_when_cut_short(capture) -> None:
    """JSON and repr() escape a quote inside a value; a message may end inside one (a body cut
    to a length)."""
    logger, stream = capture
    logger.warning("refused %s", json.dumps({"username": "alice", "password": 'Zx9"Yw8 Vu7'}))
    logger.warning("refused %s", repr({"api_key": "Qa1'Ws2 Ed3"}))
    logger.warning("refused %s", '{"password": "Rf4 Tg5 Yh6')
    logger.warning("refused %s", '{"password": "Uj7\\\nIk8 Ol9"}')  # a backslash, then a line end
    text = stream.getvalue()
    for piece in ("Zx9", "Yw8", "Vu7", "Qa1", "Ws2", "Ed3", "Rf4", "Tg5", "Yh6", "Ik8", "Ol9"):
        assert piece not in text
    assert '"username": "alice"' in lines(stream)[0]["message"], "what is no secret is kept"


def test_the_settings_logged_at_start_hide_every_secret_and_nothing_else(capture) -> None:
    """The `gateway ready` line: the session lifetime is a number of seconds, not a token, and
    shown; the passwords of both URLs and the DSN's `sslpassword` stay hidden."""
    logger, stream = capture
    settings = load_settings(
        environ={
            "DATABASE_URL": "postgresql://paywire:db-pass-42@db/paywire?sslpassword=key-pass-7",
            "REDIS_URL": "redis://:redis-pass-9@cache:6379/0",
            "PAYWIRE_TOKEN_TTL_S": "900",
            "PAYWIRE_CLIENT_CERT_FILE": "/etc/paywire/gateway.pem",
            "PAYWIRE_CLIENT_KEY_FILE": "/etc/paywire/gateway-key.pem",
        }
    )
    logger.info("gateway ready", extra={"settings": settings.redacted()})
    text = stream.getvalue()
    for secret in ("db-pass-42", "key-pass-7", "redis-pass-9"):
        assert secret not in text
    shown = lines(stream)[0]["settings"]
    assert isinstance(shown, dict)
    assert shown["token_ttl_s"] == 900
    assert shown["client_key_file"] == "/etc/paywire/gateway-key.pem"
    assert "***" not in json.dumps({k: v for k, v in shown.items() if not k.endswith("_url")})


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("password", True),
        ("db_password", True),
        ("passwd", True),
        ("password_hash", True),
        ("client_secret", True),
        ("token", True),
        ("session_token", True),
        ("token_hash", True),
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("api_key", True),
        ("X-Api-Key", True),
        ("token_ttl_s", False),
        ("token_expires_at", False),
        ("password_changed_at", False),
        ("failed_password_count", False),
    ],
)
def test_a_field_is_hidden_by_a_name_that_holds_a_secret_not_one_that_measures_it(
    capture, name: str, masked: bool
) -> None:
    logger, stream = capture
    logger.info("event", extra={name: "s3cr3t-or-not"})
    assert (lines(stream)[0][name] == "***") is masked


def test_daily_file_is_named_by_utc_day_and_rolls_over(tmp_path: Path) -> None:
    day = [dt.date(2026, 11, 27)]
    handler = DailyFileHandler(tmp_path, today=lambda: day[0])
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("paywire.test.daily")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("first day")
        day[0] = dt.date(2026, 11, 28)
        logger.warning("second day")
    finally:
        logger.removeHandler(handler)
        handler.close()
    first = tmp_path / "application-2026-11-27.log"
    second = tmp_path / "application-2026-11-28.log"
    assert log_file_name(dt.date(2026, 11, 27)) == first.name
    assert json.loads(first.read_text())["message"] == "first day"
    assert json.loads(second.read_text())["message"] == "second day"


def test_files_older_than_thirty_days_are_removed(tmp_path: Path) -> None:
    today = dt.date(2026, 11, 27)
    kept = [today - dt.timedelta(days=n) for n in (1, 30)]
    removed = [today - dt.timedelta(days=n) for n in (31, 400)]
    for day in kept + removed:
        (tmp_path / log_file_name(day)).write_text("{}\n")
    (tmp_path / "application-notes.log").write_text("not a day file\n")
    handler = DailyFileHandler(tmp_path, today=lambda: today)
    handler.setFormatter(JsonFormatter())
    handler.handle(logging.makeLogRecord({"msg": "opens today's file", "levelno": 30}))
    handler.close()
    names = {p.name for p in tmp_path.iterdir()}
    assert {log_file_name(d) for d in kept} <= names
    assert not {log_file_name(d) for d in removed} & names
    assert log_file_name(today) in names
    assert "application-notes.log" in names


@pytest.fixture
def restored_root() -> Iterator[None]:
    """configure_logging sets up the root logger; put it back as it was after the test."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield
    for handler in set(root.handlers) - set(saved_handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(saved_level)


@pytest.mark.usefixtures("restored_root")
def test_configure_logging_writes_to_stream_and_daily_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_dir=tmp_path), stream=stream)
    configure_logging(Settings(log_dir=tmp_path), stream=stream)  # again: no duplicates
    logging.getLogger("paywire.test.configure").info("configured")
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["configured"]
    today = dt.datetime.now(dt.UTC).date()
    written = (tmp_path / log_file_name(today)).read_text().splitlines()
    assert json.loads(written[0])["message"] == "configured"


@pytest.mark.usefixtures("restored_root")
def test_a_plain_console_is_prose_masked_as_json_is_and_the_file_stays_json(
    tmp_path: Path,
) -> None:
    """`paywire demo` prints prose; its warnings read as prose too, with their fields, with no
    secret or account in them, and the day's file keeps the JSON its readers parse."""
    stream = io.StringIO()
    configure_logging(
        Settings(log_dir=tmp_path), stream=stream, console_formatter=PlainFormatter("demo: ")
    )
    logging.getLogger("paywire.test.plain").warning("login of %s, password=hunter2", IBAN)
    masked = mask_account(IBAN)
    assert stream.getvalue() == f"demo: warning: login of {masked}, password=***\n"
    # Which payment and message it is about, and a receiver's text that can neither draw on
    # the terminal (a line break, ESC and CSI sequences, a bidirectional override) nor pass for
    # a field of its own.
    stream.truncate(0)
    stream.seek(0)
    logging.getLogger("paywire.test.plain").warning(
        "answer for unknown message: %s",
        "RJCT\n\x1b[2J\x9b2J\u202edemo: stopped",
        extra={
            "payment_id": "7d1c",
            "msg_id": "PW1",
            "token": "abc",
            "attempts": [1, 2],
            "error": "reset msg_id=PW2",
        },
    )
    assert stream.getvalue() == (
        "demo: warning: answer for unknown message: RJCT\ufffd\ufffd[2J\ufffd2J\ufffddemo: stopped"
        ' payment_id=7d1c msg_id=PW1 token=*** attempts=[1,2] error="reset msg_id=PW2"\n'
    )
    today = dt.datetime.now(dt.UTC).date()
    written = json.loads((tmp_path / log_file_name(today)).read_text().splitlines()[0])
    assert written["message"] == f"login of {masked}, password=***"


@pytest.mark.usefixtures("restored_root")
def test_a_log_directory_that_cannot_be_written_is_named_where_it_was_set(tmp_path: Path) -> None:
    """One the --config file set was refused as PAYWIRE_LOG_DIR, which the environment did not
    hold: it is named by its key and the file; one from the environment by its variable."""
    (tmp_path / "a-file").write_text("")
    unusable = tmp_path / "a-file" / "logs"
    for settings, name, where in given_each_way(tmp_path, log_dir=unusable):
        with pytest.raises(ConfigError) as refused:
            configure_logging(settings, stream=io.StringIO())
        assert refused.value.message == (
            f"{name('log_dir')}='{unusable}'{where}: cannot write the day's log file there:"
            " Not a directory"
        )


@pytest.mark.usefixtures("restored_root")
def test_the_log_level_leaves_out_what_is_less_severe(tmp_path: Path) -> None:
    """PAYWIRE_LOG_LEVEL=warning (in any case): the line per request and the routine events
    are left out, warnings and errors written, paywire's and the libraries' alike."""
    stream = io.StringIO()
    settings = load_settings(
        environ={"PAYWIRE_LOG_LEVEL": "warning", "PAYWIRE_LOG_DIR": str(tmp_path)}
    )
    configure_logging(settings, stream=stream)
    logging.getLogger("paywire.api").info("GET /health 200")
    logging.getLogger("paywire.transport").warning("connection lost")
    logging.getLogger("aiohttp.server").info("a library's routine line")
    logging.getLogger("asyncpg").error("a library's error")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["level"], x["message"]) for x in lines] == [
        ("WARNING", "connection lost"),
        ("ERROR", "a library's error"),
    ]


def test_a_throttled_kind_logs_once_per_period_with_the_count_it_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttled = Throttled(logging.getLogger("paywire.test.throttled"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="paywire.test.throttled"):
        for _ in range(500):
            throttled.warning("junk", "junk from %s", "peer")
        throttled.warning("orphan", "an orphan")
        now[0] = 10.0
        throttled.warning("junk", "junk from %s", "peer")
        throttled.warning("junk", "junk from %s", "peer")

    logged = [(r.getMessage(), getattr(r, "unlogged", 0)) for r in caplog.records]
    assert logged == [("junk from peer", 0), ("an orphan", 0), ("junk from peer", 499)]
