"""One frozen `Settings`, read once from the environment and an optional TOML file.

Every setting (docs/CONFIGURATION.md) lives here with its default, so the rest of the code
never reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from paywire.domain.identifiers import bic_problem
from paywire.domain.money import currency_digits
from paywire.errors import ConfigError

_PREFIX = "PAYWIRE_"
_UNPREFIXED = ("DATABASE_URL", "REDIS_URL")
# PAYWIRE_ variables that are no settings and are not reported as unknown (`unknown_variables`):
# read by paywire's tests (tests/chaos, tests/fixtures/redis.py, tests/ui), its fuzzing and
# differential tests (rust/fuzz, rust/src/xml) and the PostgreSQL container's first-start script
# (deploy/postgres). tests/test_config.py finds every PAYWIRE_ variable the repository reads here
# or among the settings.
NOT_SETTINGS = frozenset(
    {
        "PAYWIRE_CHAOS_SCALE",
        "PAYWIRE_CHAOS_SEED",
        "PAYWIRE_CHROMIUM",
        "PAYWIRE_DB_NAME",
        "PAYWIRE_DB_PASSWORD",
        "PAYWIRE_DB_USER",
        "PAYWIRE_DIFFERENTIAL_CASES",
        "PAYWIRE_DIFFERENTIAL_SEED",
        "PAYWIRE_DIFFERENTIAL_SHOW",
        "PAYWIRE_FUZZ_EXECUTIONS",
        "PAYWIRE_FUZZ_SECONDS",
        "PAYWIRE_FUZZ_SEED",
        "PAYWIRE_GATEWAY_DB_PASSWORD",
        "PAYWIRE_GATEWAY_DB_USER",
        "PAYWIRE_REDIS_SERVER",
    }
)
# What Kubernetes injects into a pod for every Service of its namespace unless the pod sets
# `enableServiceLinks: false` (deploy/k8s does): a Service `paywire` gives PAYWIRE_SERVICE_HOST,
# PAYWIRE_SERVICE_PORT_HTTP, PAYWIRE_PORT_3000_TCP_ADDR, … and a bare `_PORT` variable, told from
# a misspelt setting by its value, a URL (`tcp://10.0.0.1:3000`).
_SERVICE_LINK = re.compile(
    r"PAYWIRE(?:_\w+)?_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?"
    r"|PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)"
)
_SERVICE_LINK_PORT = re.compile(r"PAYWIRE(?:_\w+)?_PORT")
_SERVICE_LINK_URL = re.compile(r"(?:tcp|udp|sctp)://\S+:\d+")
# How alike (difflib's ratio) an unknown name and a setting must be for "did you mean": enough
# for a letter missed, swapped or doubled, or a dropped `_S`, not for any name sharing a word.
_SIMILAR = 0.8
# The frame headers the wire core speaks (docs/TRANSPORT.md); the reference receiver's
# --framing takes the same.
FRAMINGS = ("u32be", "u16be", "ascii4")
# The levels PAYWIRE_LOG_LEVEL takes, named as the standard library names them. No DEBUG:
# paywire writes no debug records (what diagnosis needs is at INFO, and in the metrics), and the
# libraries' debug records were never read for secrets.
LOG_LEVELS = ("INFO", "WARNING", "ERROR")
_FRAMING_LIMITS = {"u32be": 0xFFFF_FFFF, "u16be": 0xFFFF, "ascii4": 9999}
# Every duration setting, and what it may be besides positive. A day bounds them all: longer
# is no timeout a receiver or database needs, and overflows the date arithmetic of leases.
_DURATIONS = {
    "ack_timeout_s": "",
    "heartbeat_s": "0 (off) or more than 0",
    "cb_reset_s": "",
    "db_command_timeout_s": "",
    "stuck_after_s": "",
    "drain_timeout_s": "0 or more",
}
MAX_SECONDS = 86_400.0
# The longest operator session: a bank wants none to outlast a working day (a token left valid
# overnight is one a stolen laptop can use); far longer, the expiry overflowed the date
# arithmetic of every login.
MAX_TOKEN_TTL_S = 86_400
_POSTGRES_SCHEME = (
    "must start postgresql:// or postgres:// (a key=value connection string is not taken)"
)
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
# PAYWIRE_TLS_MIN_VERSION's values and the oldest TLS each lets a connection use; the gateway's
# client contexts and the reference receiver's server context both take them from here.
TLS_MIN_VERSIONS: Mapping[str, ssl.TLSVersion] = MappingProxyType(
    {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
)
# Query parameters of DATABASE_URL / REDIS_URL whose values are masked in logs.
_SECRET_PARAMETER = re.compile(r"(?i)pass|secret|token|key")
# Twice the largest pacs.008 paywire composes (every field at its longest and escaped: 4,029
# bytes). Below it some payments could never be sent, and each try would hold up its batch.
MIN_FRAME_BYTES = 8192
# The limit when none is set, unless the framing expresses less (`load_settings`).
DEFAULT_MAX_FRAME_BYTES = 1_048_576

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one gateway process; docs/CONFIGURATION.md says what each field means."""

    database_url: str | None = None
    data_dir: Path = Path(".paywire")
    http_host: str = "127.0.0.1"
    http_port: int = 3000
    # Host names the admin surface answers to besides IP addresses and localhost (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    receiver_host: str | None = None
    receiver_port: int | None = None
    receiver_server_name: str | None = None
    receiver_ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    receiver_pin_sha256: tuple[str, ...] = ()
    tls_min_version: str = "1.2"
    pool_size: int = 4
    max_inflight: int = 128
    ack_timeout_s: float = 30.0
    max_attempts: int = 5
    framing: str = "u32be"
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    heartbeat_s: float = 30.0
    cb_failure_threshold: int = 5
    cb_reset_s: float = 30.0
    sender_bic: str | None = None
    receiver_bic: str | None = None
    token_ttl_s: int = 3600
    sanctions_file: Path | None = None
    log_dir: Path = Path("logs")
    # The least severe log record written (observability/logging.py).
    log_level: str = "INFO"
    audit_retention_years: int = 10
    redis_url: str | None = None
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_command_timeout_s: float = 10.0
    stuck_after_s: float = 300.0
    drain_timeout_s: float = 30.0
    # Screening holds a payment above its currency's limit: "EUR=1000000,USD=1000000".
    amount_limits: tuple[tuple[str, Decimal], ...] = ()
    # The fields the --config file set, each with the file, so that a refusal long after loading
    # still names a value where it was set (`named`). Not a setting: no part of equality, repr,
    # `redacted` or SETTING_FIELDS.
    from_file: Mapping[str, Path] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    @property
    def server_name(self) -> str | None:
        """The name used for SNI and the host-name check: explicit, else the receiver host."""
        return self.receiver_server_name or self.receiver_host

    def require(self, *names: str) -> None:
        """Refuse to go on when a setting a command needs is absent, naming its variable."""
        missing = [env_name(n) for n in names if getattr(self, n) in (None, "")]
        if missing:
            raise ConfigError(
                f"missing required setting(s): {', '.join(missing)}; "
                "set them in the environment or in the file given with --config"
            )

    def replaced(self, **changes: Any) -> Settings:
        """These settings with `changes`, which the --config file no longer sets: a command
        that chooses a value itself (the demo's CA, the bench's receiver) must not have its
        refusal send the user to the file."""
        kept = {name: file for name, file in self.from_file.items() if name not in changes}
        return dataclasses.replace(self, **changes, from_file=MappingProxyType(kept))

    def named(self, field: str, shown: str = "") -> str:
        """`field` as a refusal names it (`_named`), for one raised after loading: the module that
        opens a file the settings name would otherwise name its variable though the file set it."""
        return _named(field, self.from_file, shown)

    def named_value(self, field: str) -> str:
        """`field` named with its value, as the loader's refusals quote it: `log_dir='/x' in
        /etc/paywire.toml`, `PAYWIRE_LOG_DIR='/x'`."""
        return self.named(field, f"={_shown(getattr(self, field))}")

    def redacted(self) -> dict[str, object]:
        """The settings as safe to log: credentials inside URLs are masked."""
        out: dict[str, object] = {}
        for field in SETTING_FIELDS:
            value = getattr(self, field.name)
            if field.name in ("database_url", "redis_url") and value:
                value = _mask_url(value)
            out[field.name] = str(value) if isinstance(value, Path) else value
        return out


# The settings: every field of `Settings` but `from_file`, which says where some were set.
SETTING_FIELDS: tuple[dataclasses.Field[Any], ...] = tuple(
    field for field in dataclasses.fields(Settings) if field.name != "from_file"
)


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    *,
    unused: Collection[str] = (),
    **overrides: Any,
) -> Settings:
    """Settings from a TOML file (lower-case keys without prefix), then the environment, then
    explicit overrides; the environment wins over the file. The `unused` settings, which the
    command never reads (`bench` and `database_url`), are left unread in both, so a value of
    theirs cannot refuse the command.

    A variable set empty (`DATABASE_URL=`, as env files and manifests leave one) counts as
    unset: it took the place of the file's value, and `DATABASE_URL=` quietly meant the
    embedded server, `PAYWIRE_DATA_DIR=` the current directory.

    A refusal names a value from the file by its key and the file (`pool_size=0 in
    paywire.toml`), and any other by its variable: the user looks for it where it was set, and
    greps the environment in vain for one the file set. An override is named by its variable
    too: only tests and their fixtures pass any, by field name, and no command-line option."""
    env = os.environ if environ is None else environ
    file = {} if config_file is None else _read_toml(config_file)
    file = {name: value for name, value in file.items() if name not in unused}
    environment = {
        field.name: value
        for field in SETTING_FIELDS
        if field.name not in unused and (value := env.get(env_name(field.name), "")).strip()
    }
    given = {name: value for name, value in overrides.items() if value is not None}
    raw = {**file, **environment, **given}
    unknown = set(raw) - {f.name for f in SETTING_FIELDS}
    if unknown:
        where = f" in {config_file}" if config_file is not None else ""
        raise ConfigError(
            f"unknown setting(s){where}: {', '.join(sorted(unknown))}; the keys are the variables"
            " of docs/CONFIGURATION.md in lower case, without PAYWIRE_"
        )
    from_file: dict[str, Path] = {}
    if config_file is not None:
        from_file = dict.fromkeys(file.keys() - environment.keys() - given.keys(), config_file)
    values = {name: _coerce(name, value, from_file) for name, value in raw.items()}
    if "max_frame_bytes" not in values and values.get("framing") in _FRAMING_LIMITS:
        # Unset, the limit is 1 MiB or what the framing can express, whichever is less: u16be
        # and ascii4 must work without a second setting.
        framing_limit = _FRAMING_LIMITS[values["framing"]]
        values["max_frame_bytes"] = min(DEFAULT_MAX_FRAME_BYTES, framing_limit)
    settings = Settings(**values, from_file=MappingProxyType(from_file))
    _validate(settings)
    return settings


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The PAYWIRE_ variables of `environ` that set nothing, each with the variable of the setting
    it most resembles, or None. The environment is read by name, so a misspelt setting would
    otherwise be ignored in silence and its default used. Not refused, as an unknown key of the
    file is: the environment is shared with what is not paywire's (docs/CONFIGURATION.md)."""
    settings = {f.name.upper(): env_name(f.name) for f in SETTING_FIELDS}
    unknown: dict[str, str | None] = {}
    for name, value in sorted(environ.items()):
        if (
            not name.startswith(_PREFIX)
            or name in settings.values()
            or name in NOT_SETTINGS
            or _SERVICE_LINK.fullmatch(name)
            or (_SERVICE_LINK_PORT.fullmatch(name) and _SERVICE_LINK_URL.fullmatch(value))
        ):
            continue
        bare = name.removeprefix(_PREFIX)
        # A name cut short (PAYWIRE_RECEIVER_CA for …_CA_FILE) is nearer by its prefix than by
        # its letters (difflib would say …_RECEIVER_BIC).
        longer = [setting for setting in settings if setting.startswith(f"{bare}_")]
        close = (
            longer
            if len(longer) == 1
            else difflib.get_close_matches(bare, settings, n=1, cutoff=_SIMILAR)
        )
        unknown[name] = settings[close[0]] if close else None
    return unknown


def env_name(field: str) -> str:
    """The variable that sets a `Settings` field (`ack_timeout_s` → `PAYWIRE_ACK_TIMEOUT_S`)."""
    upper = field.upper()
    return upper if upper in _UNPREFIXED else _PREFIX + upper


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's keys, or a refusal naming the file and what to do about it: whatever stops
    reading it would otherwise end the command in a traceback."""
    try:
        # A byte order mark, as some editors write one, is no part of the settings.
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a directory; give --config the TOML file itself"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}; check that the user running"
            " paywire may read it"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (at byte {exc.start}); save it as UTF-8,"
            " which TOML requires"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _named(name: str, from_file: Mapping[str, Path], shown: str = "") -> str:
    """A setting as a refusal names it, with `shown` (its value as quoted, `=5`) after the name:
    by its key and the file when the file set it, so that the user looks there; else by its
    variable, the one set or, for a default, the way to set it."""
    file = from_file.get(name)
    return f"{env_name(name)}{shown}" if file is None else f"{name}{shown} in {file}"


def _parse(
    name: str, value: Any, from_file: Mapping[str, Path], parse: Callable[[Any], T], expected: str
) -> T:
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{_named(name, from_file, f'={value!r}')} is not {expected}") from None


def _coerce(name: str, value: Any, from_file: Mapping[str, Path]) -> Any:
    field_type = {f.name: f.type for f in SETTING_FIELDS}[name]
    if name == "amount_limits":
        pairs = "CURRENCY=AMOUNT pairs: EUR=1000000,USD=500000"
        return _parse(name, value, from_file, _parse_limits, pairs)
    if value == "" and "None" in str(field_type):
        return None
    if "Path" in str(field_type):
        return value if isinstance(value, Path) else Path(_text(name, value, from_file, "a path"))
    if name == "allowed_hosts":
        hosts = _text_items(name, value, from_file)
        return tuple(h.strip().lower().rstrip(".") for h in hosts if h.strip())
    if name == "receiver_pin_sha256":
        return tuple(_normalise_pin(p) for p in _text_items(name, value, from_file) if p.strip())
    if "float" in str(field_type):
        return _parse(name, value, from_file, _strict(float), "a number")
    if "int" in str(field_type):
        return _parse(name, value, from_file, _strict(int), "a whole number")
    if name == "tls_min_version" and isinstance(value, float):
        # `tls_min_version = 1.3` unquoted is a TOML number, and means what it says.
        return str(value)
    text = _text(name, value, from_file, "text")
    return text.strip().upper() if name == "log_level" else text


def _text(name: str, value: Any, from_file: Mapping[str, Path], expected: str) -> str:
    """A value that must be text. The environment gives nothing else, but the file may: a TOML
    number, boolean, array or table is refused naming what is expected, rather than failing
    with a TypeError (`Path(5)`) or quietly becoming its Python spelling (`True`, `['a']`)."""
    if isinstance(value, str):
        return value
    # A URL's value is not quoted back: an array may hold one with its password.
    shown = f" ({_toml_kind(value)})" if name in ("database_url", "redis_url") else f"={value!r}"
    raise ConfigError(f"{_named(name, from_file, shown)} is not {expected}; write it in quotes")


def _text_items(name: str, value: Any, from_file: Mapping[str, Path]) -> list[str]:
    """The items of a list setting: comma-separated text, or a TOML array of text."""
    if not isinstance(value, list | tuple):
        return _text(name, value, from_file, "text or an array of text").split(",")
    return [_text(name, item, from_file, "text or an array of text") for item in value]


def _toml_kind(value: Any) -> str:
    """What a TOML value is, in TOML's words, for a refusal that must not show the value."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "an array"
    return "a table" if isinstance(value, dict) else "a date or time"


def _strict(kind: type[int] | type[float]) -> Callable[[Any], int | float]:
    """`kind` of a value, refusing what Python would quietly turn into one: TOML's `true` (1),
    and for a whole number a fraction (`int(2.5)` is 2)."""

    def parse(value: Any) -> int | float:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise TypeError(value)
        return kind(value)

    return parse


def _parse_limits(value: Any) -> tuple[tuple[str, Decimal], ...]:
    """CURRENCY=AMOUNT pairs, from "EUR=1000000,USD=500000" text or a TOML table."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        for item in str(value).split(","):
            currency, sep, amount = item.partition("=")
            if item.strip() and not sep:
                raise ValueError(item)
            if item.strip():
                pairs.append((currency, amount))
    limits = []
    for currency, text in pairs:
        try:
            limit = Decimal(text.strip())
        except ArithmeticError:
            raise ValueError(text) from None
        if not re.fullmatch(r"[A-Z]{3}", currency.strip()) or not limit.is_finite() or limit <= 0:
            raise ValueError(currency)
        limits.append((currency.strip(), limit))
    return tuple(limits)


def _normalise_pin(pin: Any) -> str:
    return str(pin).strip().replace(":", "").lower()


def _validate(s: Settings) -> None:
    def check(ok: bool, name: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"{s.named_value(name)}: {why}")

    check(
        s.tls_min_version in TLS_MIN_VERSIONS,
        "tls_min_version",
        f"must be {' or '.join(TLS_MIN_VERSIONS)}",
    )
    check(s.framing in FRAMINGS, "framing", f"must be one of {', '.join(FRAMINGS)}")
    check(s.log_level in LOG_LEVELS, "log_level", f"must be one of {', '.join(LOG_LEVELS)}")
    check(
        s.max_frame_bytes >= MIN_FRAME_BYTES,
        "max_frame_bytes",
        f"must be at least {MIN_FRAME_BYTES}: a pacs.008 paywire composes can take 4,029 bytes",
    )
    check(
        s.max_frame_bytes <= _FRAMING_LIMITS.get(s.framing, 0),
        "max_frame_bytes",
        f"cannot exceed what {s.framing} framing can express",
    )
    check(s.pool_size >= 1, "pool_size", "must be at least 1")
    check(s.max_inflight >= 1, "max_inflight", "must be at least 1")
    check(s.max_attempts >= 1, "max_attempts", "must be at least 1")
    check(s.cb_failure_threshold >= 1, "cb_failure_threshold", "must be at least 1")
    for name, zero in _DURATIONS.items():
        value = getattr(s, name)
        check(
            math.isfinite(value) and (value >= 0 if zero else value > 0) and value <= MAX_SECONDS,
            name,
            f"must be {zero or 'more than 0'} seconds and at most {MAX_SECONDS:,.0f} (a day)",
        )
    check(s.db_pool_max >= 1, "db_pool_max", "must be at least 1")
    check(
        0 <= s.db_pool_min <= s.db_pool_max,
        "db_pool_min",
        f"must be 0 to {s.named('db_pool_max')} ({s.db_pool_max})",
    )
    for name in ("database_url", "redis_url"):
        problem = _unencoded_userinfo(getattr(s, name))
        if problem:
            # Not `check`: the message must not echo a URL that holds a password.
            raise ConfigError(f"{s.named(name)}: {problem}")
    if s.database_url and not _has_scheme(s.database_url, ("postgresql", "postgres")):
        raise ConfigError(
            f"{s.named('database_url', f'={_mask_url(s.database_url)!r}')}: {_POSTGRES_SCHEME}"
        )
    if s.redis_url and not _is_redis_url(s.redis_url):
        raise ConfigError(
            f"{s.named('redis_url', f'={_mask_url(s.redis_url)!r}')}: must start redis://,"
            " rediss:// or unix://, and a port in it must be a number"
        )
    given: set[str] = set()
    for currency, _ in s.amount_limits:
        # A code ISO 4217 does not have would limit nothing; one given twice, only its last.
        try:
            currency_digits(currency)
        except ValueError as exc:
            raise ConfigError(f"{s.named('amount_limits')}: {exc}") from None
        if currency in given:
            raise ConfigError(f"{s.named('amount_limits')}: {currency} is given twice")
        given.add(currency)
    for name in ("sender_bic", "receiver_bic"):
        bic = getattr(s, name)
        problem = None if bic is None else bic_problem(bic)
        check(problem is None, name, problem or "")
    check(
        0 < s.token_ttl_s <= MAX_TOKEN_TTL_S,
        "token_ttl_s",
        f"must be more than 0 seconds and at most {MAX_TOKEN_TTL_S:,} (a day)",
    )
    check(7 <= s.audit_retention_years <= 10, "audit_retention_years", "must be 7 to 10")
    check(
        s.receiver_port is None or 0 < s.receiver_port < 65536,
        "receiver_port",
        "not a port (1-65535)",
    )
    check(0 <= s.http_port < 65536, "http_port", "not a port (0-65535; 0: any free port)")
    for host, port in (("receiver_host", "receiver_port"), ("http_host", "http_port")):
        problem = host_problem(getattr(s, host))
        check(problem is None, host, f"{problem}; the port is {s.named(port)}")
    check(
        all(_HOST_NAME.fullmatch(h) for h in s.allowed_hosts),
        "allowed_hosts",
        "must be host names separated by commas, without scheme or port (IP addresses and "
        "localhost are always answered)",
    )
    check(
        (s.client_cert_file is None) == (s.client_key_file is None),
        "client_key_file" if s.client_cert_file is None else "client_cert_file",
        f"{s.named('client_cert_file')} and {s.named('client_key_file')} go together: set both for"
        " mutual TLS, or neither",
    )
    for pin in s.receiver_pin_sha256:
        check(
            len(pin) == 64 and all(c in "0123456789abcdef" for c in pin),
            "receiver_pin_sha256",
            "each pin is a SHA-256 fingerprint: 64 hex digits (colons allowed)",
        )


def host_problem(host: str | None) -> str | None:
    """Why a host setting (or `receiver --host`) is not a bare name or address, as the URL or
    `HOST:PORT` people copy into it would otherwise be looked up as a name, and fail with "Name
    or service not known" only when the gateway dials or listens."""
    if host is None or (":" not in host and "/" not in host):
        return None
    if "/" in host:
        return "a host name or address, not a URL"
    if host.startswith("["):
        return "an IPv6 address is written without brackets here (::1)"
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return "a host name or address without a port"
    return None


def _shown(value: object) -> str:
    """A setting's value as a refusal quotes it: text as it was written, a path too (its repr
    would read `PosixPath('…')`, which no one set)."""
    return repr(str(value)) if isinstance(value, Path) else repr(value)


def database_url_problem(url: str) -> str | None:
    """What makes `url` unusable as a PostgreSQL URL, said without any of it, or None: for a
    URL given elsewhere than the settings (`bench --database-url`), checked as DATABASE_URL is."""
    if problem := _unencoded_userinfo(url):
        return problem
    if not _has_scheme(url, ("postgresql", "postgres")):
        return _POSTGRES_SCHEME
    return None


def _unencoded_userinfo(url: str | None) -> str | None:
    """What breaks `user:password@` in the URL, said without any of it, or None. A raw '/', '?'
    or '#' in it makes drivers read the password as a host and port, and their errors quote its
    first characters; a raw '@' makes them look up the rest of the password as a host name
    ("Name or service not known"), long after start-up."""
    if not url:
        return None
    rest = url.partition("://")[2]
    userinfo, at, _ = rest.partition("@")
    if at and ":" in userinfo and any(c in userinfo for c in "/?#"):
        return (
            "the part before '@' holds '/', '?' or '#', so the URL is cut inside the password;"
            " percent-encode them there (%2F, %3F, %23)"
        )
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.count("@") > 1 or ("@" in authority and _at_past_the_host(rest[len(authority) :])):
        # A password holding '@' and then '/', '?' or '#' ("a@b/c", "a@b?c"): cut there, its
        # middle is read as the host and its end as the database's name or a parameter.
        return (
            "the part before the host holds more than one '@', so the host is read from inside"
            " the password or user name; percent-encode '@' there as %40"
        )
    return None


def _at_past_the_host(tail: str) -> bool:
    """Whether the URL after its host holds an '@' that only a password cut short can have put
    there: in the path (a database's name), in a parameter's name, in a fragment, or in a
    parameter's value before a '/' (`?a=b@db/paywire`, the password's end, a host and a database).
    A value may hold one otherwise (`options=a@b`)."""
    before_fragment, _, fragment = tail.partition("#")
    path, _, query = before_fragment.partition("?")
    parts = [part.partition("=") for part in query.split("&")]
    return (
        "@" in path
        or "@" in fragment
        or any("@" in name or re.search("@.*/", value) for name, _, value in parts)
    )


def _is_redis_url(url: str) -> bool:
    """Whether redis-py will take the URL: checked at start-up, because the client is made
    only when the gateway starts, and its refusal would come as a traceback."""
    try:
        port = urlsplit(url).port  # a port that is not a number (or above 65535) raises
    except ValueError:
        return False
    return _has_scheme(url, ("redis", "rediss", "unix")) and port != 0


def _has_scheme(url: str, schemes: tuple[str, ...]) -> bool:
    """Whether `url` starts with one of `schemes` and `://`. Without the slashes (`redis:/…`,
    `redis//…`) drivers read no host or password out of it, and connect unauthenticated to the
    local default instead, or to a database named after the rest."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in schemes  # as the drivers read it


def _mask_url(url: str) -> str:
    """The URL with its password and any secret-like query value (`password=`,
    `sslpassword=`, …) masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        # Not a URL: any of it before its last '@' may be a password (all of it, without one).
        return f"***@{url.rpartition('@')[2]}" if "@" in url else "***"
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        rest = f"{creds.split(':', 1)[0]}:***@{host}"
    address, question, query = rest.partition("?")
    if question:
        query = "&".join(
            f"{name}=***" if _SECRET_PARAMETER.search(name) else f"{name}{eq}{value}"
            for name, eq, value in (part.partition("=") for part in query.split("&"))
        )
    return f"{scheme}://{address}{question}{query}"
