"""Settings refused at start-up, with the variable named and what to set instead."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from paywire.config import (
    MIN_FRAME_BYTES,
    NOT_SETTINGS,
    env_name,
    load_settings,
    unknown_variables,
)
from paywire.errors import ConfigError
from paywire.wire import build_pacs008
from tests.fixtures.settings import given_each_way
from tests.wire.test_pacs008 import valid_payment

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\bPAYWIRE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")

# Every text field at its longest, in the character escaping makes longest ('"' → "&quot;").
LONGEST = valid_payment(
    msg_id="M" * 35,
    instr_id="I" * 35,
    end_to_end_id='"' * 35,
    amount="99999999999999.99",
    debtor_name='"' * 140,
    creditor_name='"' * 140,
    creditor_account='"' * 34,
    remittance_info='"' * 140,
    instructed_bic="NWBKGB2LXXX",
    creditor_agent_bic="NWBKGB2LXXX",
)


def test_a_frame_limit_below_the_largest_message_is_refused() -> None:
    assert len(build_pacs008(**LONGEST)) < MIN_FRAME_BYTES
    with pytest.raises(ConfigError, match="PAYWIRE_MAX_FRAME_BYTES=4096: must be at least 8192"):
        load_settings(environ={"PAYWIRE_MAX_FRAME_BYTES": "4096"})
    assert load_settings(environ={"PAYWIRE_MAX_FRAME_BYTES": "8192"}).max_frame_bytes == 8192


@pytest.mark.parametrize(
    ("framing", "limit"), [("u32be", 1_048_576), ("u16be", 65_535), ("ascii4", 9_999)]
)
def test_each_framing_works_with_the_default_frame_limit(framing: str, limit: int) -> None:
    """Unset, the limit is 1 MiB or what the framing can express, whichever is less; set above
    what it can express, it is refused."""
    settings = load_settings(environ={"PAYWIRE_FRAMING": framing})
    assert settings.max_frame_bytes == limit
    if framing != "u32be":
        too_big = {"PAYWIRE_FRAMING": framing, "PAYWIRE_MAX_FRAME_BYTES": str(limit + 1)}
        with pytest.raises(ConfigError, match=f"cannot exceed what {framing} framing can express"):
            load_settings(environ=too_big)


def test_settings_are_logged_without_any_secret_of_their_urls() -> None:
    settings = load_settings(
        environ={
            "DATABASE_URL": "postgresql://paywire:db-pass@db/paywire"
            "?sslkey=/k.pem&sslpassword=key-pass&application_name=gw",
            "REDIS_URL": "redis://:redis-pass@cache:6379/0",
        }
    )
    shown = settings.redacted()
    assert shown["database_url"] == (
        "postgresql://paywire:***@db/paywire?sslkey=***&sslpassword=***&application_name=gw"
    )
    assert shown["redis_url"] == "redis://:***@cache:6379/0"


def test_where_a_value_was_set_is_remembered_but_is_no_setting(tmp_path: Path) -> None:
    """Settings remember what the --config file set, for the refusals raised after loading
    (`Settings.named`). Settings that hold the same values are equal whichever way they were
    set, and neither their repr nor what is logged of them says where."""
    from_file, from_environ = (
        given.settings for given in given_each_way(tmp_path, log_dir="/var/log/paywire")
    )
    assert from_file.named("log_dir") == f"log_dir in {tmp_path / 'paywire.toml'}"
    assert from_environ.named("log_dir") == "PAYWIRE_LOG_DIR"
    assert from_file == from_environ
    assert hash(from_file) == hash(from_environ)
    assert repr(from_file) == repr(from_environ)
    assert from_file.redacted() == from_environ.redacted()
    assert "from_file" not in from_file.redacted()
    # A value a command chooses itself (the demo's CA) is no longer the file's.
    assert from_file.replaced(log_dir=Path("/srv/logs")).named("log_dir") == "PAYWIRE_LOG_DIR"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PAYWIRE_ACK_TIMEOUT_S": "inf"}, "PAYWIRE_ACK_TIMEOUT_S"),
        ({"PAYWIRE_ACK_TIMEOUT_S": "nan"}, "PAYWIRE_ACK_TIMEOUT_S"),
        ({"PAYWIRE_ACK_TIMEOUT_S": "1e12"}, "PAYWIRE_ACK_TIMEOUT_S"),
        ({"PAYWIRE_CB_RESET_S": "0"}, "PAYWIRE_CB_RESET_S"),
        ({"PAYWIRE_STUCK_AFTER_S": "-5"}, "PAYWIRE_STUCK_AFTER_S"),
        ({"PAYWIRE_DRAIN_TIMEOUT_S": "-1"}, "PAYWIRE_DRAIN_TIMEOUT_S"),
        ({"PAYWIRE_DB_COMMAND_TIMEOUT_S": "0"}, "PAYWIRE_DB_COMMAND_TIMEOUT_S"),
        ({"PAYWIRE_DB_POOL_MAX": "0"}, "PAYWIRE_DB_POOL_MAX"),
        ({"PAYWIRE_DB_POOL_MIN": "5", "PAYWIRE_DB_POOL_MAX": "2"}, "PAYWIRE_DB_POOL_MIN"),
        ({"PAYWIRE_SENDER_BIC": "bogus"}, "PAYWIRE_SENDER_BIC"),
        ({"PAYWIRE_RECEIVER_BIC": "rcvrgb2lxxx"}, "PAYWIRE_RECEIVER_BIC"),
        ({"PAYWIRE_LOG_LEVEL": "DEBUG"}, "PAYWIRE_LOG_LEVEL"),
        ({"PAYWIRE_LOG_LEVEL": "verbose"}, "PAYWIRE_LOG_LEVEL"),
    ],
)
def test_settings_that_would_misbehave_later_are_refused_at_start(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}="):
        load_settings(environ=environ)


@pytest.mark.parametrize("ttl", ["0", "86401", "400000000000"])
def test_a_session_lifetime_over_a_day_is_refused(ttl: str) -> None:
    """No bank wants a session to outlast a working day; far longer, the gateway started and
    then every login overflowed computing the token's expiry (a 500)."""
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"PAYWIRE_TOKEN_TTL_S": ttl})
    assert refused.value.message == (
        f"PAYWIRE_TOKEN_TTL_S={int(ttl)}: must be more than 0 seconds and at most 86,400 (a day)"
    )
    assert load_settings(environ={"PAYWIRE_TOKEN_TTL_S": "86400"}).token_ttl_s == 86_400


def test_zero_turns_off_what_may_be_off() -> None:
    settings = load_settings(environ={"PAYWIRE_HEARTBEAT_S": "0", "PAYWIRE_DRAIN_TIMEOUT_S": "0"})
    assert (settings.heartbeat_s, settings.drain_timeout_s) == (0, 0)


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DATABASE_URL", "postgresql://paywire:Zx9/q+w@db:5432/paywire"),
        ("DATABASE_URL", "postgresql://paywire:Zx9#q@db/paywire"),
        ("REDIS_URL", "redis://:Zx9?q@cache:6379/0"),
    ],
)
def test_a_password_that_breaks_its_url_is_refused_without_being_shown(
    variable: str, url: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: .*percent-encode") as raised:
        load_settings(environ={variable: url})
    assert "Zx9" not in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DATABASE_URL", "postgresql://u:Zx9{at}ss@127.0.0.1:5999/db"),
        ("DATABASE_URL", "postgresql://u:Zx9{at}ss@127.0.0.1:5999?options=a@b"),
        ("DATABASE_URL", "postgresql://ops{at}Zx9.example:pw@db/paywire"),
        ("REDIS_URL", "redis://:Zx9{at}q@cache:6379/0"),
    ],
)
def test_a_raw_at_sign_in_a_url_s_credentials_is_refused_without_being_shown(
    variable: str, url: str
) -> None:
    """Taken, the URL's host would be read from inside the password, and the database's
    "Name or service not known" would come long after start-up; percent-encoded, it is taken."""
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={variable: url.format(at="@")})
    assert raised.value.message.startswith(f"{variable}: ")
    assert raised.value.message.endswith("percent-encode '@' there as %40")
    assert "Zx9" not in str(raised.value)
    assert load_settings(environ={variable: url.format(at="%40")}) is not None


@pytest.mark.parametrize(
    ("cut", "encoded_cut"), [("/", "%2F"), ("?", "%3F"), ("#", "%23"), ("?a=", "%3Fa=")]
)
def test_a_password_holding_at_and_then_a_delimiter_is_refused_without_being_shown(
    cut: str, encoded_cut: str
) -> None:
    """Cut at the '/', '?' or '#', its middle would be taken for the host and its end for the
    database's name or a parameter, and the connection's refusal would name both."""
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"DATABASE_URL": f"postgresql://u:Zx9@Yw8{cut}Vu7@127.0.0.1:5999/db"})
    assert raised.value.message.endswith("percent-encode '@' there as %40")
    assert not {"Zx9", "Yw8", "Vu7"} & set(re.findall(r"\w+", str(raised.value)))
    encoded = f"postgresql://u:Zx9%40Yw8{encoded_cut}Vu7@127.0.0.1:5999/db"
    assert load_settings(environ={"DATABASE_URL": encoded}).database_url == encoded


@pytest.mark.parametrize(
    "url",
    [
        "http://:Zx9q@cache:6379/0",
        "redis://:Zx9q@cache:port/0",
        "redis://:Zx9q@cache:0",
        "redis//:Zx9q@cache:6379/0",
        "redis:/:Zx9q@cache:6379",
        "redis:Zx9q@cache",
    ],
)
def test_a_redis_url_the_client_would_refuse_is_refused_at_start_without_its_password(
    url: str,
) -> None:
    """redis-py reads the URL only when the gateway starts, and refuses it with a traceback;
    without its `//` it takes it, and connects to the local default without a password."""
    with pytest.raises(
        ConfigError, match=r"^REDIS_URL='[^']*\*\*\*@[^']*': must start redis://"
    ) as raised:
        load_settings(environ={"REDIS_URL": url})
    assert "Zx9" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["postgresql:/app:Zx9q@db/paywire", "postgresql//app:Zx9q@db/paywire", "db/paywire"]
)
def test_a_database_url_without_its_scheme_and_slashes_is_refused_without_its_password(
    url: str,
) -> None:
    """The driver would read `app:Zx9q@db/paywire` as the name of a database on a local
    socket, and might quote it back in its error."""
    with pytest.raises(ConfigError, match=r"^DATABASE_URL='[^']*': must start postgresql://"):
        load_settings(environ={"DATABASE_URL": url})
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"DATABASE_URL": url})
    assert "Zx9" not in str(raised.value)


@pytest.mark.parametrize(
    ("database_url", "redis_url"),
    [
        ("postgresql://paywire:Zx9%2Fq@db:5432/paywire?options=a@b", "redis://cache:6379/0"),
        ("POSTGRESQL://paywire@db/paywire", "REDIS://cache:6379/0"),  # the drivers' case too
    ],
)
def test_urls_with_encoded_passwords_and_at_signs_in_queries_are_taken(
    database_url: str, redis_url: str
) -> None:
    urls = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    settings = load_settings(environ=urls)
    assert (settings.database_url, settings.redis_url) == tuple(urls.values())


def test_a_value_of_the_wrong_form_is_refused_saying_what_form_is_wanted(tmp_path) -> None:
    for variable, value, wanted in (
        ("PAYWIRE_POOL_SIZE", "four", "a whole number"),
        ("PAYWIRE_ACK_TIMEOUT_S", "30s", "a number"),
        ("PAYWIRE_AMOUNT_LIMITS", "EUR:100", "CURRENCY=AMOUNT pairs: EUR=1000000,USD=500000"),
    ):
        with pytest.raises(ConfigError) as refused:
            load_settings(environ={variable: value})
        assert refused.value.message == f"{variable}={value!r} is not {wanted}"
    config = tmp_path / "paywire.toml"
    config.write_text("pool_size = 2\nack_timout_s = 10\n")
    with pytest.raises(ConfigError, match=rf"unknown setting\(s\) in {config}: ack_timout_s; "):
        load_settings(environ={}, config_file=config)


def test_a_config_file_that_cannot_be_read_is_refused_naming_it(tmp_path: Path) -> None:
    """A directory, or a file that is not UTF-8 (an unreadable one cannot be made when the tests
    run as root), is refused naming the file and what to do, not with a traceback."""
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={}, config_file=tmp_path)
    assert refused.value.message == (
        f"config file {tmp_path} is a directory; give --config the TOML file itself"
    )
    config = tmp_path / "paywire.toml"
    config.write_bytes('log_dir = "journaux-\u00e9t\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={}, config_file=config)
    assert refused.value.message == (
        f"config file {config} is not UTF-8 text (at byte 20); save it as UTF-8, which TOML"
        " requires"
    )


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ("log_dir = 5", "log_dir=5 in {file} is not a path; write it in quotes"),
        (
            "sanctions_file = true",
            "sanctions_file=True in {file} is not a path; write it in quotes",
        ),
        ("http_host = 127", "http_host=127 in {file} is not text; write it in quotes"),
        ("log_level = [1]", "log_level=[1] in {file} is not text; write it in quotes"),
        (
            "allowed_hosts = [5]",
            "allowed_hosts=5 in {file} is not text or an array of text; write it in quotes",
        ),
        (
            'database_url = ["postgresql://ops:Zx9q@db/paywire"]',
            "database_url (an array) in {file} is not text; write it in quotes",
        ),
        ('pool_size = "four"', "pool_size='four' in {file} is not a whole number"),
        # What Python would quietly convert: True to 1, 2.5 to 2.
        ("ack_timeout_s = true", "ack_timeout_s=True in {file} is not a number"),
        ("pool_size = 2.5", "pool_size=2.5 in {file} is not a whole number"),
    ],
)
def test_a_file_value_of_the_wrong_type_is_refused_naming_the_type_wanted(
    tmp_path: Path, line: str, refusal: str
) -> None:
    """TOML's values have types the environment's have not: one that is not what the setting
    takes is refused naming it, not with an "unexpected TypeError" nor taken as its Python
    spelling ("True", "['a']"), and a URL is not quoted back."""
    config = tmp_path / "paywire.toml"
    config.write_text(line + "\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={}, config_file=config)
    assert refused.value.message == refusal.format(file=config)


def test_file_values_of_the_types_they_were_taken_as_are_still_taken(tmp_path: Path) -> None:
    """Text for a number, an unquoted TLS version and arrays of text, as before."""
    config = tmp_path / "paywire.toml"
    config.write_text(
        'pool_size = "2"\ntls_min_version = 1.3\nallowed_hosts = ["gateway"]\n'
        'log_dir = "journal"\namount_limits = { EUR = 1000 }\n'
    )
    settings = load_settings(environ={}, config_file=config)
    assert (settings.pool_size, settings.tls_min_version) == (2, "1.3")
    assert (settings.allowed_hosts, settings.log_dir) == (("gateway",), Path("journal"))
    assert settings.amount_limits == (("EUR", 1000),)


@pytest.mark.parametrize(
    ("given", "other"),
    [
        ("PAYWIRE_CLIENT_CERT_FILE", "PAYWIRE_CLIENT_KEY_FILE"),
        ("PAYWIRE_CLIENT_KEY_FILE", "PAYWIRE_CLIENT_CERT_FILE"),
    ],
)
def test_half_a_client_certificate_is_refused_naming_the_path_as_written(
    given: str, other: str
) -> None:
    """The refusal quotes the variable that was set, its path as text (not `PosixPath(…)`),
    and says to set the other one too or neither."""
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={given: "rcv/tls/gateway.pem"})
    assert refused.value.message == (
        f"{given}='rcv/tls/gateway.pem': PAYWIRE_CLIENT_CERT_FILE and PAYWIRE_CLIENT_KEY_FILE"
        " go together: set both for mutual TLS, or neither"
    )
    paths = {given: "gw-1.pem", other: "gw-2.pem"}
    both = load_settings(environ=paths)
    assert (both.client_cert_file, both.client_key_file) == (
        Path(paths["PAYWIRE_CLIENT_CERT_FILE"]),
        Path(paths["PAYWIRE_CLIENT_KEY_FILE"]),
    )


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles() -> None:
    environ = {
        "PAYWIRE_ACK_TIMEOUT": "10",  # the unit dropped
        "PAYWIRE_RECIEVER_HOST": "receiver.internal",
        "PAYWIRE_SENDERBIC": "PAYWDEFFXXX",
        "PAYWIRE_RECEIVER_CA": "/etc/ca.pem",  # cut short
        "PAYWIRE_DATABASE_URL": "postgresql://ops:pw@db/paywire",  # DATABASE_URL has no prefix
        "PAYWIRE_VERBOSE": "1",  # like no setting
        "PAYWIRE_PORT": "3000",  # a service link's name, but not its value
        "PAYWIRE_POOL_SIZE": "2",
        "DATABASE_URL": "postgresql://ops:pw@db/paywire",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == {
        "PAYWIRE_ACK_TIMEOUT": "PAYWIRE_ACK_TIMEOUT_S",
        "PAYWIRE_DATABASE_URL": "DATABASE_URL",
        "PAYWIRE_PORT": None,
        "PAYWIRE_RECEIVER_CA": "PAYWIRE_RECEIVER_CA_FILE",
        "PAYWIRE_RECIEVER_HOST": "PAYWIRE_RECEIVER_HOST",
        "PAYWIRE_SENDERBIC": "PAYWIRE_SENDER_BIC",
        "PAYWIRE_VERBOSE": None,
    }
    assert load_settings(environ=environ).pool_size == 2, "loading settings still ignores them"


def test_variables_of_paywire_s_tooling_and_kubernetes_service_links_are_not_reported() -> None:
    """Service links as Kubernetes injects them for Services `paywire` (port `http`, 3000) and
    `paywire-receiver` (port `wire`, 7000) when a pod does not turn them off."""
    links = {
        f"PAYWIRE{service}_{suffix}": value
        for service, port, name in (("", 3000, "HTTP"), ("_RECEIVER", 7000, "WIRE"))
        for suffix, value in (
            ("SERVICE_HOST", "10.96.0.7"),
            ("SERVICE_PORT", str(port)),
            (f"SERVICE_PORT_{name}", str(port)),
            (f"PORT_{port}_TCP", f"tcp://10.96.0.7:{port}"),
            (f"PORT_{port}_TCP_PROTO", "tcp"),
            (f"PORT_{port}_TCP_PORT", str(port)),
            (f"PORT_{port}_TCP_ADDR", "10.96.0.7"),
        )
    }
    links["PAYWIRE_PORT"] = "tcp://10.96.0.7:3000"
    tooling = {"PAYWIRE_CHAOS_SEED": "7", "PAYWIRE_FUZZ_SECONDS": "2", "PAYWIRE_DB_PASSWORD": "x"}
    assert unknown_variables({**links, **tooling}) == {}


def test_every_paywire_variable_the_repository_reads_is_a_setting_or_known_not_to_be() -> None:
    """A variable paywire's own tests, scripts or deploy files read must not be reported to an
    operator as a typo, and the list of them holds no name nothing reads any more. Documents and
    test modules are left out: they name variables for people to read, and the tests misspell
    some on purpose; so is config.py, which holds the list."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    read: set[str] = set()
    for name in listed:
        path = ROOT / name
        skipped = path.suffix == ".md" or re.fullmatch(r"test_.*\.py", path.name)
        if skipped or path == ROOT / "python/paywire/config.py" or not path.is_file():
            continue
        try:
            read.update(VARIABLE.findall(path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    assert unknown_variables(dict.fromkeys(read, "")) == {}
    assert read >= NOT_SETTINGS, "every name of NOT_SETTINGS is still read somewhere"


def test_allowed_hosts_are_names_without_scheme_or_port() -> None:
    taken = load_settings(environ={"PAYWIRE_ALLOWED_HOSTS": "Paywire.Example., gateway"})
    assert taken.allowed_hosts == ("paywire.example", "gateway")
    for value in ("https://paywire.example", "paywire.example:3000", "pay wire"):
        with pytest.raises(ConfigError, match=r"^PAYWIRE_ALLOWED_HOSTS=.*: must be host names"):
            load_settings(environ={"PAYWIRE_ALLOWED_HOSTS": value})


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("EUX=100", "PAYWIRE_AMOUNT_LIMITS: EUX is not an ISO 4217 currency"),
        ("EUR=5,EUR=1000000", "PAYWIRE_AMOUNT_LIMITS: EUR is given twice"),
    ],
)
def test_amount_limits_that_would_limit_nothing_are_refused(limits: str, message: str) -> None:
    """A currency ISO 4217 does not have limits no payment; a second limit for one currency
    silently replaced the first."""
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"PAYWIRE_AMOUNT_LIMITS": limits})
    assert refused.value.message == message


def test_a_variable_set_empty_counts_as_unset(tmp_path: Path) -> None:
    """`DATABASE_URL=` (an env file's line left blank) took the place of the file's value: the
    commands went to the embedded server instead, and `PAYWIRE_DATA_DIR=` put it in the
    current directory."""
    config = tmp_path / "paywire.toml"
    config.write_text(
        'database_url = "postgresql://ops@db.internal/paywire"\ndata_dir = "/var/lib/paywire"\n'
    )
    blank = {"DATABASE_URL": "", "PAYWIRE_DATA_DIR": " ", "PAYWIRE_ACK_TIMEOUT_S": ""}
    settings = load_settings(environ=blank, config_file=config)
    assert settings.database_url == "postgresql://ops@db.internal/paywire"
    assert settings.data_dir == Path("/var/lib/paywire")
    assert settings.ack_timeout_s == load_settings(environ={}).ack_timeout_s


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("PAYWIRE_RECEIVER_PORT", "99999", "1-65535"),
        ("PAYWIRE_RECEIVER_PORT", "0", "1-65535"),
        ("PAYWIRE_HTTP_PORT", "70000", "0-65535; 0: any free port"),
    ],
)
def test_a_port_out_of_range_is_refused_with_the_range(
    variable: str, value: str, accepted: str
) -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"{variable}={value}: not a port ({accepted})")
    ):
        load_settings(environ={variable: value})


def test_config_without_its_file_after_the_command_is_named() -> None:
    """`paywire migrate --config` was "unrecognized arguments: --config", which says nothing of
    the file that is missing."""
    done = subprocess.run(
        [sys.executable, "-m", "paywire.cli", "migrate", "--config"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "argument --config: expected one argument" in done.stderr


def test_a_config_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Some editors write one; it was "Invalid statement (at line 1, column 1)"."""
    config = tmp_path / "paywire.toml"
    config.write_bytes(b"\xef\xbb\xbfack_timeout_s = 7\n")
    assert load_settings(environ={}, config_file=config).ack_timeout_s == 7


@pytest.mark.parametrize(
    ("key", "toml", "value", "refusal"),
    [
        ("receiver_port", '"abc"', "abc", "{name}='abc'{where} is not a whole number"),
        ("pool_size", "0", "0", "{name}=0{where}: must be at least 1"),
        ("log_level", '"verbose"', "verbose", "{name}='VERBOSE'{where}: must be one of INFO, "),
        (
            "database_url",
            '"postgresql://ops:Zx9/q@db/paywire"',
            "postgresql://ops:Zx9/q@db/paywire",
            "{name}{where}: the part before '@' holds '/', '?' or '#'",
        ),
        (
            "redis_url",
            '"redis:Zx9q@cache"',
            "redis:Zx9q@cache",
            "{name}='***@cache'{where}: must start redis://",
        ),
        ("amount_limits", '"EUX=100"', "EUX=100", "{name}{where}: EUX is not an ISO 4217 currency"),
        ("amount_limits", '"EUR:100"', "EUR:100", "{name}='EUR:100'{where} is not CURRENCY=AMOUNT"),
    ],
)
def test_a_refusal_names_the_setting_where_it_was_set(
    tmp_path: Path, key: str, toml: str, value: str, refusal: str
) -> None:
    """A value from the file was refused by its variable, which the user looked for in the
    environment in vain: it is named by its key and the file, and one from the environment still
    by its variable. A password is shown from neither."""
    config = tmp_path / "paywire.toml"
    config.write_text(f"{key} = {toml}\n")
    for environ, config_file, name, where in (
        ({}, config, key, f" in {config}"),
        ({env_name(key): value}, None, env_name(key), ""),
    ):
        with pytest.raises(ConfigError) as refused:
            load_settings(environ=environ, config_file=config_file)
        assert refused.value.message.startswith(refusal.format(name=name, where=where))
        assert "Zx9" not in refused.value.message


@pytest.mark.parametrize(
    ("toml", "environ", "overrides", "refusal"),
    [
        (
            "db_pool_max = 2",
            {"PAYWIRE_DB_POOL_MIN": "5"},
            {},
            "PAYWIRE_DB_POOL_MIN=5: must be 0 to db_pool_max in {file} (2)",
        ),
        (
            "db_pool_min = 5",
            {"PAYWIRE_DB_POOL_MAX": "2"},
            {},
            "db_pool_min=5 in {file}: must be 0 to PAYWIRE_DB_POOL_MAX (2)",
        ),
        # A default is named by its variable, the way to set it.
        (
            "db_pool_min = 20",
            {},
            {},
            "db_pool_min=20 in {file}: must be 0 to PAYWIRE_DB_POOL_MAX (10)",
        ),
        # The environment, and an override, win over the file, and so name what they set.
        (
            "db_pool_min = 1\ndb_pool_max = 2",
            {"PAYWIRE_DB_POOL_MIN": "5"},
            {},
            "PAYWIRE_DB_POOL_MIN=5: must be 0 to db_pool_max in {file} (2)",
        ),
        (
            "db_pool_min = 1\ndb_pool_max = 2",
            {},
            {"db_pool_min": 5},
            "PAYWIRE_DB_POOL_MIN=5: must be 0 to db_pool_max in {file} (2)",
        ),
        (
            'client_cert_file = "gw.pem"',
            {},
            {},
            "client_cert_file='gw.pem' in {file}: client_cert_file in {file} and"
            " PAYWIRE_CLIENT_KEY_FILE go together: set both for mutual TLS, or neither",
        ),
    ],
)
def test_a_refusal_of_two_settings_names_each_where_it_was_set(
    tmp_path: Path, toml: str, environ: dict[str, str], overrides: dict[str, object], refusal: str
) -> None:
    """Each by its own source, so that the user finds both: the one they set in the file may be
    the one to change, though the refusal is of the other."""
    config = tmp_path / "paywire.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=environ, config_file=config, **overrides)
    assert refused.value.message == refusal.format(file=config)


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        (
            "PAYWIRE_RECEIVER_HOST",
            "127.0.0.1:7000",
            "a host name or address without a port; the port is PAYWIRE_RECEIVER_PORT",
        ),
        (
            "PAYWIRE_RECEIVER_HOST",
            "[::1]",
            "an IPv6 address is written without brackets here (::1); the port is"
            " PAYWIRE_RECEIVER_PORT",
        ),
        (
            "PAYWIRE_RECEIVER_HOST",
            "https://receiver.bank.example",
            "a host name or address, not a URL; the port is PAYWIRE_RECEIVER_PORT",
        ),
        (
            "PAYWIRE_HTTP_HOST",
            "0.0.0.0:3000",
            "a host name or address without a port; the port is PAYWIRE_HTTP_PORT",
        ),
    ],
)
def test_a_host_setting_holding_a_port_or_url_is_refused(
    variable: str, value: str, why: str
) -> None:
    """Copied from a URL or a HOST:PORT, it was looked up as a name, and failed only when the
    gateway dialled or listened ("Name or service not known")."""
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={variable: value})
    assert refused.value.message == f"{variable}={value!r}: {why}"


@pytest.mark.parametrize("host", ["::1", "fe80::1%eth0", "receiver.bank.example", "10.0.0.7"])
def test_a_bare_host_name_or_address_is_taken(host: str) -> None:
    assert load_settings(environ={"PAYWIRE_RECEIVER_HOST": host}).receiver_host == host
