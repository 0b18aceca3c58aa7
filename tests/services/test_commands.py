"""`paywire migrate`, `seed`, `audit` and `demo` run as real subprocesses, from a directory of
their own, against the test server (DATABASE_URL) or an embedded server of their own."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from paywire.errors import listen_refusal
from paywire.receiver import ensure_certificates
from paywire.store import migrator
from paywire.store.embedded import EmbeddedPostgres
from tests.fixtures.environ import clean_environ
from tests.fixtures.postgres import server_dir
from tests.fixtures.tls import REFUSING_PORT
from tests.fixtures.waiting import finished, poll

PAYWIRE = Path(sys.executable).with_name("paywire")
SEED = {
    "operators": [{"username": "olga", "password": "olga's long secret", "roles": ["MAKER"]}],
    "accounts": [{"account": "ACC-1", "name": "Initech", "currency": "EUR", "balance": "10.00"}],
}
# What `serve` needs beyond a database; the port refuses, and none of these tests gets as far as
# dialling it.
SERVE = {
    "PAYWIRE_RECEIVER_HOST": "127.0.0.1",
    "PAYWIRE_RECEIVER_PORT": str(REFUSING_PORT),
    "PAYWIRE_SENDER_BIC": "PAYWDEFFXXX",
    "PAYWIRE_RECEIVER_BIC": "RCVRGB2LXXX",
}


def paywire(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAYWIRE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    env = clean_environ()
    env["PAYWIRE_LOG_DIR"] = str(tmp_path / "logs")
    env["PAYWIRE_DATA_DIR"] = str(tmp_path / "data")
    return env


def migrated_and_seeded(env: dict[str, str], tmp_path: Path) -> None:
    """`paywire migrate`, then `paywire seed --file` with SEED: one operator, one account."""
    assert paywire(env, tmp_path, "migrate").returncode == 0
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED))
    seeded = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert seeded.returncode == 0, seeded.stderr


@pytest.fixture
def env(empty_database: str, tmp_path: Path) -> dict[str, str]:
    return {**base_env(tmp_path), "DATABASE_URL": empty_database}


def test_migrate_status_and_rollback(env: dict[str, str], tmp_path: Path) -> None:
    latest = migrator.load()[-1]
    latest_name = f"{latest.version:04d}_{latest.name}"
    done = paywire(env, tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied 0001_operators" in done.stdout
    assert f"database migrated at {latest_name}" in done.stdout

    status = paywire(env, tmp_path, "migrate", "status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert len(lines) == latest.version
    assert all(" applied " in line for line in lines)

    undone = paywire(env, tmp_path, "migrate", "rollback")
    assert undone.stdout.strip() == f"rolled back {latest_name}"
    behind = paywire(env, tmp_path, "migrate", "status")
    assert behind.returncode == 3, "pending: a check in a script must not pass"
    lines = behind.stdout.splitlines()
    assert lines[-1].endswith(" pending")
    # One column for each of version, name, state and time, whatever the names' lengths.
    states = {
        line.index(" applied ") if " applied " in line else line.index(" pending") for line in lines
    }
    times = {line.index("T") - len("YYYY-MM-DD") for line in lines[:-1]}
    assert (len(states), len(times)) == (1, 1), behind.stdout

    again = paywire(env, tmp_path, "migrate")
    assert again.stdout.splitlines() == [
        f"applied {latest_name}",
        f"database migrated at {latest_name}",
    ]
    assert "up to date" in paywire(env, tmp_path, "migrate").stdout


async def test_migrate_says_it_waits_for_another_runner_then_runs(
    env: dict[str, str], tmp_path: Path
) -> None:
    holder = await asyncpg.connect(env["DATABASE_URL"])
    process: asyncio.subprocess.Process | None = None
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", migrator.LOCK_KEY)
        process = await asyncio.create_subprocess_exec(
            str(PAYWIRE), "migrate", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        async with asyncio.timeout(60):
            first = await process.stdout.readline()
        assert first.startswith(b"another `paywire migrate` holds the migration lock")
        await holder.execute("SELECT pg_advisory_unlock($1)", migrator.LOCK_KEY)
        out, err = await finished(process, 60)
    finally:
        # A migrate that never said it waits, or did not go on, must not outlive the test.
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await holder.close()
    assert process.returncode == 0, err
    assert b"database migrated at" in out


def test_commands_are_not_bound_by_the_statement_timeout(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A step of a migration, a day's report or a big audit chain may rightly run for minutes;
    here every statement takes longer than the timeout the gateway's statements have."""
    hurried = {**env, "PAYWIRE_DB_COMMAND_TIMEOUT_S": "0.000001"}
    done = paywire(hurried, tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert "database migrated at" in done.stdout
    for command in (("recon", "daily", "--date", "2026-01-15"), ("audit", "verify")):
        ran = paywire(hurried, tmp_path, *command)
        assert ran.returncode == 0, ran.stderr


def test_commands_refuse_an_unmigrated_database(env: dict[str, str], tmp_path: Path) -> None:
    refused = paywire(env, tmp_path, "seed")
    assert refused.returncode == 2
    assert "run `paywire migrate`" in refused.stderr


@pytest.mark.parametrize(
    "command", [("recon", "daily", "--date", "2026-01-15"), ("audit", "verify"), ("migrate",)]
)
def test_a_database_that_cannot_be_reached_is_exit_2_not_a_finding(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Exit 1 means unmatched items or a broken audit chain; a cron job must not read an
    outage as either. REFUSING_PORT refuses connections."""
    url = f"postgresql://ops:s3cret-pw@127.0.0.1:{REFUSING_PORT}/paywire"
    env = {**base_env(tmp_path), "DATABASE_URL": url}
    done = paywire(env, tmp_path, *command)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        f"paywire: cannot open the database at 127.0.0.1:{REFUSING_PORT}/paywire:"
        " ConnectionRefusedError"
    ), done.stderr
    assert "check DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "line",
    [
        ("--config", "{file}", "migrate", "status"),
        ("migrate", "status", "--config", "{file}"),
        ("recon", "daily", "--date", "2026-01-15", "--config={file}"),
    ],
)
def test_config_is_read_before_or_after_the_command(tmp_path: Path, line: tuple[str, ...]) -> None:
    """The file's database (a port that refuses) is the one the command tries to open."""
    config = tmp_path / "paywire.toml"
    where = f"127.0.0.1:{REFUSING_PORT}/from_the_file"
    config.write_text(f'database_url = "postgresql://ops:pw@{where}"\n')
    done = paywire(base_env(tmp_path), tmp_path, *(a.format(file=config) for a in line))
    assert done.returncode == 2, done.stderr
    assert f"cannot open the database at {where}" in done.stderr


def into_closed_pipe(
    env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`paywire ARGS | head -0`: the output's reader has gone before the first line."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [str(PAYWIRE), *args], env=env, cwd=cwd, stdout=writer, stderr=subprocess.PIPE,
            text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(writer)


CLOSED_OUTPUT = "paywire: the output was closed before all of it was written\n"


def test_demo_passwords_that_cannot_be_shown_are_not_kept(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`paywire seed | head -1`: the generated passwords are shown once, so output closed
    before them must leave nothing seeded (a run again shows new ones), and say so in a line."""
    assert paywire(env, tmp_path, "migrate").returncode == 0
    cut = into_closed_pipe(env, tmp_path, "seed")
    assert (cut.returncode, cut.stderr) == (2, CLOSED_OUTPUT)
    today = datetime.now(UTC).date().isoformat()
    report = into_closed_pipe(env, tmp_path, "audit", "export", "--date", today)
    assert (report.returncode, report.stderr) == (2, CLOSED_OUTPUT), "a report's exit, not checked"
    again = paywire(env, tmp_path, "seed")
    assert again.returncode == 0, again.stderr
    assert "shown this once" in again.stdout


def test_seed_demo_then_file(env: dict[str, str], tmp_path: Path) -> None:
    assert paywire(env, tmp_path, "migrate").returncode == 0
    demo = paywire(env, tmp_path, "seed")
    assert demo.returncode == 0, demo.stderr
    assert "created   operator checker" in demo.stdout
    shown = demo.stdout.split("shown this once")[1]
    assert {line.split()[0] for line in shown.splitlines()[1:] if line.strip()} == {
        "maker", "maker2", "checker", "checker2", "compliance", "admin", "auditor",
    }  # fmt: skip
    again = paywire(env, tmp_path, "seed")
    assert again.stdout.startswith("nothing changed")
    assert "shown this once" not in again.stdout

    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED))
    from_file = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert from_file.stdout.splitlines() == [
        "created   operator olga",
        "created   account ACC-1",
        "",
        "olga: the file's password is only for the first sign-in, which asks for one of their own"
        " (passwd in the terminal)",
    ]
    assert paywire(env, tmp_path, "seed", "--file", "seed.json").stdout.startswith(
        "nothing changed"
    )

    seed_file.write_text(json.dumps({"operators": [{"username": "x", "roles": []}]}))
    bad = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert bad.returncode == 2
    assert "operators[0].password" in bad.stderr
    assert "operators[0].roles" in bad.stderr

    # Two files pasted together: a JSON reader keeps the last of a key given twice.
    first, second = json.dumps(SEED["operators"]), json.dumps(SEED["accounts"])
    seed_file.write_text(f'{{"operators": {first}, "accounts": {second}, "operators": []}}')
    twice = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert twice.returncode == 2
    assert "gives 'operators' twice in one object" in twice.stderr
    seed_file.write_text(
        '{"operators": [{"username": "zoe", "roles": ["MAKER"], "roles": ["AUDITOR"]}]}'
    )
    twice = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert "gives 'roles' twice in one object, the one of username 'zoe'" in twice.stderr
    # Deeper than the standard library's reader goes, within orjson's 1,024 levels.
    seed_file.write_text("[" * 1010 + "]" * 1010)
    deep = paywire(env, tmp_path, "seed", "--file", str(seed_file))
    assert (deep.returncode, deep.stderr.count("Traceback")) == (2, 0)
    assert "nested too deep" in deep.stderr


def test_the_demo_seed_is_refused_on_a_database_with_operators_of_its_own(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A forgotten --file must not give a real database the demo's ADMIN and balances."""
    migrated_and_seeded(env, tmp_path)

    refused = paywire(env, tmp_path, "seed")

    assert refused.returncode == 2
    assert "has operators of its own (olga)" in refused.stderr
    assert "seed --file" in refused.stderr
    assert "shown this once" not in refused.stdout
    status = paywire(env, tmp_path, "audit", "verify")
    assert json.loads(status.stdout)["rows"] == 2, "nothing was added"


def test_the_demo_is_refused_on_a_database_with_operators_of_its_own(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A DATABASE_URL left set in the shell must not give a real database the demo's ADMIN,
    accounts and a gateway: the demo stops before it migrates or seeds anything."""
    migrated_and_seeded(env, tmp_path)

    refused = paywire(env, tmp_path, "demo")

    assert refused.returncode == 2, refused.stderr
    assert "has operators of its own (olga)" in refused.stderr
    assert "unset DATABASE_URL" in refused.stderr
    status = paywire(env, tmp_path, "audit", "verify")
    assert json.loads(status.stdout)["rows"] == 2, "nothing was added"


@pytest.mark.parametrize(
    ("kept", "refusal"),
    [
        (
            b'{"operators": [{"username": "maker", "pass',
            ["paywire: the demo seed file {path} is not valid JSON ("],
        ),
        (
            json.dumps({"operators": [{"username": "maker", "roles": []}], "accounts": []}),
            [
                "paywire: the demo seed file {path} is not a valid seed; delete it",
                "  operators[0].password: ",
                "  operators[0].roles: ",
            ],
        ),
        (b"[]", ["paywire: the demo seed file {path} is not a valid seed; delete it", "  must be"]),
    ],
)
def test_a_broken_demo_seed_is_refused_before_the_database_starts_saying_to_delete_it(
    tmp_path: Path, kept: bytes | str, refusal: list[str]
) -> None:
    """The seed an earlier demo kept, cut short, edited or of an older paywire: the file and each
    field's problem are named, without a traceback and before PostgreSQL is started."""
    env = base_env(tmp_path)
    path = Path(env["PAYWIRE_DATA_DIR"]) / "demo-seed.json"
    path.parent.mkdir()
    path.write_bytes(kept if isinstance(kept, bytes) else kept.encode())

    done = paywire(env, tmp_path, "demo")

    assert done.returncode == 2, done.stderr
    printed = done.stderr.splitlines()
    assert len(printed) == len(refusal), done.stderr
    for line, start in zip(printed, refusal, strict=True):
        assert line.startswith(start.format(path=path)), done.stderr
    assert "run `paywire demo` again to generate a new one" in printed[0]
    assert not (path.parent / "pgdata").exists(), "no database was started"


async def test_audit_verify_detects_tampering_and_export_writes_csv(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrated_and_seeded(env, tmp_path)

    verified = paywire(env, tmp_path, "audit", "verify")
    assert verified.returncode == 0
    assert json.loads(verified.stdout) == {"ok": True, "rows": 2, "first_bad_id": None}

    # The day the seed's rows were stamped, which is not today if the suite ran past midnight
    # (UTC) in the seconds these commands take.
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        stamped: datetime = await conn.fetchval("SELECT min(timestamp) FROM audit_logs")
    finally:
        await conn.close()
    day = stamped.astimezone(UTC).date().isoformat()
    exported = paywire(env, tmp_path, "audit", "export", "--date", day)
    assert exported.returncode == 0
    assert exported.stdout.splitlines()[0].startswith("id,timestamp,operator")
    assert len(exported.stdout.splitlines()) == 3

    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        await conn.execute("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only")
        await conn.execute("UPDATE audit_logs SET operator = 'mallory' WHERE id = 2")
    finally:
        await conn.close()
    tampered = paywire(env, tmp_path, "audit", "verify")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout) == {"ok": False, "rows": 2, "first_bad_id": 2}


def test_a_report_that_fails_half_way_leaves_the_previous_file_as_it_was(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert paywire(env, tmp_path, "migrate").returncode == 0
    report = tmp_path / "audit.csv"
    today = datetime.now(UTC).date().isoformat()
    written = paywire(env, tmp_path, "audit", "export", "--date", today, "--output", str(report))
    assert written.returncode == 0, written.stderr
    before = report.read_bytes()

    away = {**env, "DATABASE_URL": f"postgresql://ops:pw@127.0.0.1:{REFUSING_PORT}/paywire"}
    failed = paywire(away, tmp_path, "audit", "export", "--date", today, "--output", str(report))

    assert failed.returncode == 2
    assert report.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "audit" in p.name) == ["audit.csv"]


def test_a_report_file_is_its_owner_s_alone_and_written_through_a_symlink(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A new report (audit rows) was made 0644, whatever the file it replaced allowed, and a
    symlink given as --output was replaced by a file."""
    assert paywire(env, tmp_path, "migrate").returncode == 0
    today = datetime.now(UTC).date().isoformat()
    fresh, kept, link = tmp_path / "fresh.csv", tmp_path / "kept.csv", tmp_path / "link.csv"
    kept.write_text("old")
    kept.chmod(0o640)
    link.symlink_to(kept)
    for output in (fresh, link):
        done = paywire(env, tmp_path, "audit", "export", "--date", today, "--output", str(output))
        assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert link.is_symlink()
    assert kept.read_text().startswith("id,")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("output", "message"),
    [("missing/r.csv", "No such file or directory"), (".", "it is a directory")],
)
def test_a_report_that_cannot_be_written_is_a_one_line_refusal(
    env: dict[str, str], tmp_path: Path, output: str, message: str
) -> None:
    assert paywire(env, tmp_path, "migrate").returncode == 0
    done = paywire(env, tmp_path, "recon", "daily", "--date", "2026-01-15", "--output", output)
    assert done.returncode == 2
    assert done.stderr.startswith(f"paywire: cannot write the report to {output}: {message}")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port=9 user=ops password=Keyword-s3cret dbname=paywire",
        "postgresql://ops:Keyword-s3cret@127.0.0.1:99999/paywire",
        "postgresql://ops:Keyword-s3cret@127.0.0.1:nine/paywire",
    ],
)
def test_a_database_url_that_cannot_be_used_is_refused_without_showing_its_password(
    tmp_path: Path, dsn: str
) -> None:
    done = paywire({**base_env(tmp_path), "DATABASE_URL": dsn}, tmp_path, "audit", "verify")
    assert done.returncode == 2
    assert done.stderr.startswith("paywire: ")
    assert "DATABASE_URL" in done.stderr
    assert "Keyword-s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


async def test_a_refused_rollback_and_a_newer_database_say_what_to_do(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrated_and_seeded(env, tmp_path)
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        # As if the seeded operators had chosen their own passwords (0021's down refuses
        # before), and the seed's were forgotten (0022's down refuses before).
        await conn.execute(
            "UPDATE operators SET password_change_required = false, seeded_password_hash = NULL"
        )
        latest = migrator.load()[-1].version
        while latest > 6:  # down to the audit log's migration, which refuses to drop records
            assert paywire(env, tmp_path, "migrate", "rollback").returncode == 0
            latest -= 1
        refused = paywire(env, tmp_path, "migrate", "rollback")
        assert refused.returncode == 2
        assert refused.stderr.startswith("paywire: rolling back 0006_audit is refused: ")
        assert "restore a backup taken before it was applied" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert paywire(env, tmp_path, "migrate").returncode == 0

        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'future', 'x')"
        )
    finally:
        await conn.close()
    newer = paywire(env, tmp_path, "audit", "verify")
    assert newer.returncode == 2
    assert "0099_future is unknown" in newer.stderr
    assert "run a paywire at least as new as it" in newer.stderr
    assert "run `paywire migrate`" not in newer.stderr


async def test_serve_on_a_port_in_use_is_a_one_line_refusal(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert paywire(env, tmp_path, "migrate").returncode == 0
    holder = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    gateway = {**env, **SERVE, "PAYWIRE_HTTP_PORT": str(port)}
    try:
        done = await asyncio.to_thread(paywire, gateway, tmp_path, "serve")
    finally:
        holder.close()
        await holder.wait_closed()
    assert done.returncode == 2, done.stderr
    assert f"paywire: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "stop what holds the port or set PAYWIRE_HTTP_PORT to a free one" in done.stderr
    assert "Traceback" not in done.stderr
    # In the application log too, where an operator looks when the service has stopped.
    (logged,) = (tmp_path / "logs").glob("application-*.log")
    refusals = [
        line for line in map(json.loads, logged.read_text().splitlines())
        if line["message"].startswith("refused to start: cannot listen on")
    ]  # fmt: skip
    assert [line["level"] for line in refusals] == ["ERROR"]


async def test_serve_names_a_port_the_config_file_set_by_its_key_and_the_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    """It said to set PAYWIRE_HTTP_PORT, and the user looked for a variable nobody had set."""
    assert paywire(env, tmp_path, "migrate").returncode == 0
    holder = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    config = tmp_path / "paywire.toml"
    config.write_text(f"http_port = {holder.sockets[0].getsockname()[1]}\n")
    try:
        done = await asyncio.to_thread(
            paywire, {**env, **SERVE}, tmp_path, "serve", "--config", str(config)
        )
    finally:
        holder.close()
        await holder.wait_closed()
    assert done.returncode == 2, done.stderr
    assert f"stop what holds the port or set http_port in {config} to a free one" in done.stderr


@pytest.mark.parametrize(
    ("host", "says"),
    [
        # TEST-NET-1: binding it fails at once (EADDRNOTAVAIL), nothing is sent.
        ("192.0.2.1", "192.0.2.1 is not an address of this machine; set PAYWIRE_HTTP_HOST to one"),
        # glibc refuses a name with a space without asking DNS; `.invalid` would ask it.
        ("no such host", "no such host does not resolve; set PAYWIRE_HTTP_HOST to an address"),
    ],
)
def test_serve_on_an_address_not_of_this_machine_says_so_not_to_free_a_port(
    env: dict[str, str], tmp_path: Path, host: str, says: str
) -> None:
    assert paywire(env, tmp_path, "migrate").returncode == 0
    gateway = {**env, **SERVE, "PAYWIRE_HTTP_HOST": host, "PAYWIRE_HTTP_PORT": "0"}
    done = paywire(gateway, tmp_path, "serve")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"paywire: cannot listen on {host}:0: {says}")
    assert done.stderr.count("\n") == 1
    assert "holds the port" not in done.stderr


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            OSError(errno.EACCES, "error while attempting to bind: permission denied"),
            "permission denied; a port below 1024 needs privileges: set PAYWIRE_HTTP_PORT to "
            "1024 or above",
        ),
        (
            OSError(errno.ENETDOWN, "error while attempting to bind: network is down"),
            "Network is down",
        ),
    ],
)
def test_a_listen_refusal_gives_advice_only_where_it_knows_the_cause(
    error: OSError, says: str
) -> None:
    """Cases a test cannot bring about (the tests run as root, which may bind port 80)."""
    refusal = listen_refusal(
        error, "127.0.0.1", 80, host_setting="PAYWIRE_HTTP_HOST", port_setting="PAYWIRE_HTTP_PORT"
    )
    assert refusal.message == f"cannot listen on 127.0.0.1:80: {says}"


def test_a_log_directory_that_cannot_be_written_is_refused_at_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    unusable = tmp_path / "a-file" / "logs"
    done = paywire({**env, **SERVE, "PAYWIRE_LOG_DIR": str(unusable)}, tmp_path, "serve")
    assert done.returncode == 2
    assert done.stderr.startswith(f"paywire: PAYWIRE_LOG_DIR='{unusable}': cannot write")
    assert "Traceback" not in done.stderr


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(tmp_path: Path) -> None:
    """Warned before the refusal it explains; never with its value (here a password); nothing
    about the variables of Kubernetes' service links or paywire's own tooling."""
    env = {
        **base_env(tmp_path),
        **{k: v for k, v in SERVE.items() if k != "PAYWIRE_RECEIVER_HOST"},
        "PAYWIRE_RECIEVER_HOST": "127.0.0.1",
        "PAYWIRE_DATABASE_URL": f"postgresql://ops:s3cret-pw@127.0.0.1:{REFUSING_PORT}/paywire",
        "PAYWIRE_SERVICE_HOST": "10.96.0.7",
        "PAYWIRE_PORT": "tcp://10.96.0.7:3000",
        "PAYWIRE_CHAOS_SEED": "7",
    }
    done = paywire(env, tmp_path, "serve")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "paywire: warning: PAYWIRE_DATABASE_URL is not a setting and is ignored;"
        " did you mean DATABASE_URL?",
        "paywire: warning: PAYWIRE_RECIEVER_HOST is not a setting and is ignored;"
        " did you mean PAYWIRE_RECEIVER_HOST?",
        "paywire: missing required setting(s): PAYWIRE_RECEIVER_HOST; set them in the environment"
        " or in the file given with --config",
    ]


def test_ctrl_c_while_the_commands_load_is_exit_130_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT delivered for real while `paywire` imports its command modules (a finder that
    signals its own process when the bench module is looked for, set up by a sitecustomize)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'paywire.commands.bench':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Interrupt())\n"
    )
    env = {**base_env(tmp_path), "PYTHONPATH": str(hook)}
    done = paywire(env, tmp_path, "migrate", "status")
    assert (done.returncode, done.stderr) == (130, "")


@pytest.mark.parametrize("command", [("recon", "daily"), ("audit", "export")])
def test_a_day_that_is_not_one_is_refused_saying_how_to_write_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = paywire(base_env(tmp_path), tmp_path, *command, "--date", "2026-13-45")
    assert done.returncode == 2
    assert "argument --date: '2026-13-45' is not a day: write YYYY-MM-DD" in done.stderr


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("a-file", "it is a file, not a directory; choose a directory as PAYWIRE_DATA_DIR"),
        (
            "/proc/nope",
            "No such file or directory; choose a writable directory as PAYWIRE_DATA_DIR",
        ),
    ],
)
def test_a_data_dir_that_cannot_be_made_is_a_one_line_refusal(
    tmp_path: Path, where: str, reason: str
) -> None:
    """A regular file, or a place no directory can be made, named as PAYWIRE_DATA_DIR of a
    command that starts the embedded server: it was a traceback from `mkdir`, and then mkdir's
    "File exists" for a file, which said nothing of what was wrong with it."""
    (tmp_path / "a-file").write_text("")
    unusable = tmp_path / where  # /proc/nope stays absolute
    done = paywire(
        {**base_env(tmp_path), "PAYWIRE_DATA_DIR": str(unusable)}, tmp_path, "migrate", "status"
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"paywire: cannot use {unusable} as the data directory: {reason}"
    ]


@pytest.mark.parametrize("command", [["migrate", "status"], ["demo"]])
def test_a_data_dir_that_takes_no_files_is_a_one_line_refusal(
    tmp_path: Path, command: list[str]
) -> None:
    """A directory that is there but where no file can be made: it was a traceback from
    creating the server's lock file (or, once that was there, its state file), and the demo's
    from its seed file. /proc stands for another account's directory or a read-only mount,
    which the tests, run as root, cannot make with permission bits: root is refused there too."""
    env = {**base_env(tmp_path), "PAYWIRE_DATA_DIR": "/proc"}
    done = paywire(env, tmp_path, *command)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "paywire: cannot use /proc as the data directory: no file can be made in it (No such file"
        " or directory); make it writable for this account or choose another PAYWIRE_DATA_DIR"
    ]


def test_a_lock_file_that_cannot_be_opened_is_a_one_line_refusal(tmp_path: Path) -> None:
    """The directory takes new files, but its lock file is not this account's to open (left by
    a run under sudo): a traceback. A directory in the lock file's place stands for it here,
    where the tests run as root."""
    data = tmp_path / "data"
    (data / "postgres.lock").mkdir(parents=True)
    done = paywire({**base_env(tmp_path), "PAYWIRE_DATA_DIR": str(data)}, tmp_path, "migrate")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"paywire: cannot use {data} as the data directory: cannot open postgres.lock in it (Is a"
        " directory); choose another PAYWIRE_DATA_DIR"
    ]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with server_dir("paywire-cli-") as path:
        yield path


async def test_the_embedded_server_is_started_stopped_and_shared(
    data_dir: Path, tmp_path: Path
) -> None:
    env = {**base_env(tmp_path), "PAYWIRE_DATA_DIR": str(data_dir)}
    pid_file = data_dir / "pgdata" / "postmaster.pid"

    first = paywire(env, tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert not pid_file.exists()  # the only user stopped it on its way out
    state = json.loads((data_dir / "postgres.json").read_text())
    assert isinstance(state["port"], int)
    # PostgreSQL refuses to run as root: run by root, paywire hands the server to a user of its
    # own; run by anyone else, the server is theirs. Either way, not root's.
    assert (data_dir / "pgdata").owner() != "root"

    # While this process holds the server, a command joins it and leaves it running.
    server = EmbeddedPostgres(data_dir)
    info = await server.start()
    try:
        assert info.host == "127.0.0.1"
        postmaster = pid_file.read_text().splitlines()[0]
        status = paywire(env, tmp_path, "migrate", "status")
        assert status.returncode == 0, status.stderr
        assert pid_file.read_text().splitlines()[0] == postmaster
    finally:
        await server.stop()
    assert not pid_file.exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_ctrl_c_or_sigterm_while_the_embedded_server_starts_stops_it(
    data_dir: Path, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    """Interrupted once PostgreSQL is spawned on a fresh data dir, `paywire migrate` lets the
    start finish and then stops the server as its last user would, instead of leaving it
    running for nobody until the next paywire command. SIGTERM (systemd, `timeout`, CI) the
    same: its default action killed the process on the spot."""
    env = {**base_env(tmp_path), "PAYWIRE_DATA_DIR": str(data_dir)}
    pgdata = data_dir / "pgdata"
    process = await asyncio.create_subprocess_exec(
        str(PAYWIRE), "migrate", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def spawned() -> bool:
        assert process.returncode is None, "migrate ended before PostgreSQL was spawned"
        return bool(postmasters(pgdata))

    async def gone() -> bool:
        return not postmasters(pgdata)

    try:
        await poll(spawned, 60, what="PostgreSQL spawned by migrate")
        process.send_signal(signum)
        async with asyncio.timeout(60):
            out, err = await process.communicate()
        assert process.returncode == code, err
        assert b"applied" not in out, "the interrupt came while the server was starting"
        await poll(gone, 30, what="PostgreSQL stopped after the interrupt")
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if postmasters(pgdata):  # stopped as the next paywire process would stop it
            server = EmbeddedPostgres(data_dir)
            await server.start()
            await server.stop()


def postmasters(pgdata: Path) -> list[int]:
    """The PostgreSQL servers running on `pgdata`, by their command line (`postgres -D pgdata`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # a process that has just ended
            continue
        if Path(os.fsdecode(argv[0])).name == "postgres" and os.fsencode(pgdata) in argv:
            found.append(int(entry.name))
    return found


WELCOME = re.compile(r"paywire demo is running: (http://\S+)")


def demo_section(printed: str, heading: str) -> list[list[str]]:
    """The rows of one of the welcome's lists: the indented lines after `heading`, by column."""
    rows = printed.split(heading, 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [re.split(r" {2,}", row.strip()) for row in rows]


async def read_until_welcome(stdout: asyncio.StreamReader) -> str:
    printed = ""
    while "Press Ctrl-C" not in printed:
        line = await stdout.readline()
        assert line, f"the demo ended before it was ready:\n{printed}"
        printed += line.decode()
    return printed


async def test_the_demo_settles_a_payment_between_its_operators_and_stops_on_ctrl_c(
    data_dir: Path, tmp_path: Path
) -> None:
    """What a newcomer does first: one command, then the printed operators log in, and a payment
    from a printed account, entered by one and approved by another, reaches the reference
    receiver and settles; Ctrl-C stops everything the demo started."""
    env = {**base_env(tmp_path), "PAYWIRE_DATA_DIR": str(data_dir), "PAYWIRE_HTTP_PORT": "0"}
    # A set of certificates an earlier run left, still valid: the demo makes a CA of its own.
    earlier = ensure_certificates(data_dir / "tls").ca_file.read_bytes()
    process = await asyncio.create_subprocess_exec(
        str(PAYWIRE), "demo", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(120):
            printed = await read_until_welcome(process.stdout)
        welcome = WELCOME.search(printed)
        assert welcome is not None, printed
        assert (data_dir / "tls" / "ca.pem").read_bytes() != earlier, "a freshly generated CA"
        operators = {row[0]: row[1] for row in demo_section(printed, "Operators (")}
        accounts = demo_section(printed, "Accounts to pay from (")
        debtor = next(row[0] for row in accounts if row[1] == "EUR")

        async with aiohttp.ClientSession(welcome.group(1)) as http:

            async def login(who: str) -> dict[str, str]:
                body = {"username": who, "password": operators[who]}
                async with http.post("/api/v1/auth/login", json=body) as response:
                    assert response.status == 200, await response.text()
                    return {"Authorization": f"Bearer {(await response.json())['token']}"}

            maker, checker = await login("maker"), await login("checker")
            payment = {
                "amount": "12.50",
                "currency": "EUR",
                "debtor": {"name": "Demo debtor", "account": debtor},
                "creditor": {
                    "name": "Globex SA",
                    "account": "FR1420041010050500013M02606",
                    "agent_bic": "BNPAFRPPXXX",
                },
            }
            async with http.post("/api/v1/payments", json=payment, headers=maker) as created:
                assert created.status == 201, await created.text()
                path = f"/api/v1/payments/{(await created.json())['id']}"
            async with http.post(f"{path}/approve", json={}, headers=checker) as approved:
                assert approved.status == 200, await approved.text()

            async def status() -> str:
                async with http.get(path, headers=maker) as detail:
                    shown: dict[str, Any] = await detail.json()
                    return f"{shown['status']} {(shown['reason'] or {}).get('code')}"

            await poll(status, 30, what="the demo payment COMPLETED", until="COMPLETED None".__eq__)

            # The welcome's sanctioned name: held for the compliance operator it printed.
            assert "naming Ivan Drago" in printed
            assert "compliance" in operators
            payment["creditor"] = {**payment["creditor"], "name": "Mr IVAN DRAGO"}
            async with http.post("/api/v1/payments", json=payment, headers=maker) as created:
                assert created.status == 201, await created.text()
                path = f"/api/v1/payments/{(await created.json())['id']}"
            async with http.post(f"{path}/approve", json={}, headers=checker) as approved:
                assert approved.status == 200, await approved.text()
            await poll(status, 30, what="the payment HELD", until="HELD SANCTIONS_HIT".__eq__)
    finally:
        # Ctrl-C even when the test failed: the demo stops the receiver and PostgreSQL it started.
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        rest, errors = await finished(process, 60)
    assert process.returncode == 0, errors.decode()
    assert "demo: stopped" in rest.decode()
    # Its steps are prose, and so is what it logs: not one JSON object among them.
    said = (printed + rest.decode() + errors.decode()).splitlines()
    assert not [line for line in said if line.startswith("{")]
    # pg_ctl returns once the server has removed its postmaster.pid, a moment before the
    # process itself is gone: a server still there after seconds is one the demo left running.
    await poll(lambda: not postmasters(data_dir / "pgdata"), 10, what="the demo's PostgreSQL gone")
