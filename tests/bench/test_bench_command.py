"""`paywire bench` as a user runs it, on a small load: self-contained, every mode, JSON out;
and the runs it refuses.

A smoke run only: every payment settled and a well-formed report; the figures themselves belong
in benches/RESULTS.md, never in assertions.
"""

from __future__ import annotations

import asyncio
import math
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson
import pytest

from paywire.commands.bench import receiver_address
from paywire.receiver.process import receiver_process
from paywire.store.tx import Pool
from tests.fixtures.environ import clean_environ
from tests.fixtures.tls import REFUSING_PORT
from tests.fixtures.waiting import poll

PAYMENTS = 60
KEYS = {
    "mode",
    "payments",
    "seconds",
    "payments_per_s",
    "latency_ms",
    "cpu_s_per_1000",
    "peak_rss_mb",
}


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


async def test_bench_runs_every_mode_self_contained_and_reports_json(
    database: str, db_pool: Pool
) -> None:
    """Self-contained even where DATABASE_URL is set, as the runbook has operators export it:
    a bench run writes its operators, an overdrawn account and N payments only into a
    database named by --database-url."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "paywire.cli", "bench", "--mode", "all", "--payments", str(PAYMENTS),
         "--json", "--db-profile"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**clean_environ(), "DATABASE_URL": database},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = await db_pool.fetchrow(
        "SELECT (SELECT count(*) FROM operators) AS operators,"
        " (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM payments) AS payments"
    )
    assert dict(written) == {"operators": 0, "accounts": 0, "payments": 0}
    reports = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["mode"] for r in reports] == ["e2e", "transport", "db"]
    for report in reports:
        assert set(report) == KEYS
        # A mode's run ends only once every payment is settled (answered, in transport mode),
        # else the command fails: exit 0 and these reports say all 60 were.
        assert report["payments"] == PAYMENTS
        figures = [report[key] for key in KEYS - {"mode", "payments", "latency_ms"}]
        latency = report["latency_ms"]
        assert set(latency) == {"p50", "p95", "p99"}
        assert all(is_number(value) for value in [*figures, *latency.values()]), report
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"], report
    assert "database time by statement" in result.stderr
    statements = re.findall(
        r"^ +\d+\.\d +\d+ +\d+  (top|nested) +(\S.*)$", result.stderr, re.MULTILINE
    )

    def reported(level: str, start: str) -> bool:
        return any(lv == level and s.startswith(start) for lv, s in statements)

    assert reported("top", 'COPY "audit_logs"'), result.stderr
    # Statements triggers run are profiled too: here the work list following a status change.
    assert reported("nested", "INSERT INTO payment_work"), result.stderr


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paywire.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_environ() if env is None else env,
    )


def test_a_database_url_the_run_never_reads_does_not_refuse_it() -> None:
    """A shell set up for another tool (libpq's key=value form): the bench never reads
    DATABASE_URL, so its value cannot refuse the run."""
    environ = {**clean_environ(), "DATABASE_URL": "host=db.internal dbname=paywire"}
    done = bench("--mode", "transport", "--payments", "20", "--json", env=environ)
    assert done.returncode == 0, done.stderr
    assert "DATABASE_URL" not in done.stderr


def given_as_helped(database: str) -> tuple[str, dict[str, str]]:
    """`database` as `bench --help` says to give it: the URL without its password, and the
    environment with the password in PGPASSWORD."""
    parts = urlsplit(database)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}"))
    password = {"PGPASSWORD": unquote(parts.password)} if parts.password else {}
    return url, {**clean_environ(), **password}


def bench_on(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`bench --database-url` on `database`."""
    url, env = given_as_helped(database)
    return bench("--database-url", url, *args, env=env)


async def test_a_run_cut_short_says_what_it_left_for_a_gateway_to_send(
    database: str, db_pool: Pool, tmp_path: Path
) -> None:
    """Ctrl-C during a run on a database of the user's: the payments it left on their way would
    be sent by a gateway started on that database, to that gateway's receiver. The run says
    how many, and what to do."""
    url, env = given_as_helped(database)
    async with receiver_process("--data-dir", str(tmp_path), "--ack-delay-ms", "1500") as receiver:
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "paywire.cli", "bench", "--payments", "1000",
            "--database-url", url, "--receiver", f"127.0.0.1:{receiver.port}",
            "--receiver-ca", receiver.printed["ca-file"],
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await poll(
                lambda: db_pool.fetchval(
                    "SELECT count(*) FROM payments WHERE status = 'TRANSMITTED'"
                ),
                120,
                what="payments sent",
            )
            run.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(run.communicate(), 60)
        finally:
            if run.returncode is None:
                run.kill()
                await run.wait()
    said = stderr.decode()
    assert run.returncode == 130, said
    assert "Traceback" not in said
    rows = await db_pool.fetch(
        "SELECT status, count(*) AS n FROM payments"
        " WHERE status IN ('APPROVED', 'SCREENED', 'POSTED', 'TRANSMITTED')"
        " GROUP BY status ORDER BY status"
    )
    left = ", ".join(f"{row['n']} {row['status']}" for row in rows)
    assert left
    assert (
        f"bench: warning: payments of this run are left on their way in --database-url's"
        f" database ({left}): a gateway started on it would send them to its receiver; drop the"
        " database, or run paywire bench on it again"
    ) in said


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--receiver", "abc", "--receiver abc: write HOST:PORT, e.g. 127.0.0.1:7000"),
        ("--receiver", ":7000", "--receiver :7000: write HOST:PORT, e.g. 127.0.0.1:7000"),
        (
            "--receiver",
            "127.0.0.1:99999",
            "--receiver 127.0.0.1:99999: port 99999 is not a TCP port (0-65535)",
        ),
        (
            "--receiver",
            "::1:7000",
            "--receiver ::1:7000: put an IPv6 address in brackets, e.g. [::1]:7000",
        ),
        ("--receiver", "[::1]", "--receiver [::1]: write [IPV6]:PORT, e.g. [::1]:7000"),
        ("--receiver", "::1", "--receiver ::1: put an IPv6 address in brackets, e.g. [::1]:7000"),
        (
            "--receiver",
            "https://receiver.example:7000",
            "--receiver https://receiver.example:7000: write HOST:PORT, e.g. 127.0.0.1:7000",
        ),
        (
            "--receiver",
            "127.0.0.1:0",
            "--receiver 127.0.0.1:0: port 0 cannot be dialled; give the receiver's port",
        ),
        (
            "--database-url",
            "postgresql://bench:p@127.0.0.1/x@127.0.0.1:1/paywire",
            "--database-url: the part before the host holds more than one '@', so the host is"
            " read from inside the password or user name; percent-encode '@' there as %40",
        ),
        (
            "--database-url",
            "mysql://bench@127.0.0.1:1/paywire",
            "--database-url: must start postgresql:// or postgres:// (a key=value connection"
            " string is not taken)",
        ),
        ("--rate", "nan", "--rate must be a finite number"),
        ("--rate", "inf", "--rate must be a finite number"),
        (
            "--receiver-ca",
            "ca.pem",
            "--receiver-ca goes with --receiver: it verifies that receiver",
        ),
    ],
)
def test_an_option_the_run_cannot_use_is_a_one_line_refusal(
    option: str, value: str, says: str
) -> None:
    """Before anything is set up (the database named refuses connections): it was a traceback,
    or a run that failed on what it set up first."""
    nowhere = f"postgresql://bench@127.0.0.1:{REFUSING_PORT}/paywire"
    done = bench("--payments", "1", "--database-url", nowhere, option, value)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"paywire: {says}"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:7000", ("127.0.0.1", 7000)),
        ("receiver.example:7000", ("receiver.example", 7000)),
        ("[::1]:7000", ("::1", 7000)),
        ("[2001:db8::7]:443", ("2001:db8::7", 443)),
    ],
)
def test_a_receiver_address_is_host_and_port_an_ipv6_host_without_its_brackets(
    text: str, address: tuple[str, int]
) -> None:
    """The brackets only delimit the address: with them, the host dialled was `[::1]`, which
    does not resolve."""
    assert receiver_address(text) == address


async def test_a_receiver_at_an_ipv6_address_is_reached(database: str, tmp_path: Path) -> None:
    """The host handed on is an IP literal, which the transport dials and checks against the
    certificate's IP addresses (the reference receiver's include ::1)."""
    async with receiver_process("--data-dir", str(tmp_path), host="::1") as receiver:
        done = await asyncio.to_thread(
            bench_on,
            database,
            "--mode", "transport", "--payments", "5",
            "--receiver", f"[::1]:{receiver.port}", "--receiver-ca", receiver.printed["ca-file"],
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


@pytest.mark.parametrize("content", ["", "hello\n"])
def test_a_receiver_ca_without_a_pem_certificate_is_refused_naming_the_option(
    tmp_path: Path, content: str
) -> None:
    """Before the database is opened (it refuses connections here), and as the user gave it:
    it was refused as PAYWIRE_RECEIVER_CA_FILE, which the run never reads, and only once the
    run was set up and, in e2e mode, its payments entered."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(content)
    nowhere = f"postgresql://bench@127.0.0.1:{REFUSING_PORT}/paywire"
    done = bench(
        "--payments", "1", "--database-url", nowhere,
        "--receiver", f"127.0.0.1:{REFUSING_PORT}", "--receiver-ca", str(ca_file),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"paywire: --receiver-ca={ca_file} holds no PEM certificate; give the CA certificate in"
        " PEM form (-----BEGIN CERTIFICATE-----)"
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            f"postgresql://bench@127.0.0.1:{REFUSING_PORT}/paywire",
            f"cannot open the database at 127.0.0.1:{REFUSING_PORT}/paywire: "
            "ConnectionRefusedError: [Errno 111] Connection refused; check --database-url and "
            "that the server is running and accepts this user",
        ),
        (
            "postgresql://bench@127.0.0.1:port/paywire",
            "--database-url is not a usable postgresql://user:password@host:port/database URL "
            "(its value is not shown: it may hold a password)",
        ),
    ],
    ids=["unreachable", "unusable"],
)
def test_a_database_url_the_run_cannot_use_is_refused_naming_the_option(
    url: str, says: str
) -> None:
    """It said to check DATABASE_URL, which the run never reads; the URL was --database-url."""
    done = bench("--payments", "1", "--database-url", url)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"paywire: {says}"


@pytest.mark.parametrize(
    "url",
    ["postgresql://bench:s3cr3t@127.0.0.1:1/x", "postgresql://bench@127.0.0.1:1/x?password=s3cr3t"],
)
def test_a_password_on_the_command_line_is_warned_of_and_never_shown(url: str) -> None:
    """Every account on the machine reads it in `ps`; PGPASSWORD, which the driver reads when
    the URL has no password, keeps it out of there."""
    done = bench("--database-url", url, "--payments", "1")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "paywire: warning: the password in --database-url is visible to every account on this "
        "machine in the process list; leave it out of the URL and set PGPASSWORD instead"
    )
    assert lines[-1].startswith("paywire: cannot open the database at 127.0.0.1:1/x: ")
    assert [line for line in lines if line.startswith("paywire: ")] == [lines[0], lines[-1]]
    assert "s3cr3t" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("mode", ["e2e", "transport"])
async def test_a_receiver_that_cannot_be_reached_ends_the_run_saying_so(
    database: str, mode: str
) -> None:
    """It dialled for ever, logging each refused connection and the breaker's changes; now it
    gives up before the timed part, at the latest when the circuit breaker opens. The database,
    its password given in PGPASSWORD, was opened and set up before."""
    address = f"127.0.0.1:{REFUSING_PORT}"
    done = await asyncio.to_thread(
        bench_on, database, "--mode", mode, "--payments", "5", "--receiver", address
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    refusals = [line for line in done.stderr.splitlines() if line.startswith("paywire: ")]
    assert refusals == [done.stderr.splitlines()[-1]]
    assert refusals[0].startswith(f"paywire: cannot reach the receiver at {address} (")
    assert refusals[0].endswith("Connection refused): check --receiver and --receiver-ca")


async def test_a_receiver_at_an_ipv6_address_that_cannot_be_reached_is_named_in_brackets(
    database: str,
) -> None:
    """As --receiver takes it: the run's refusal and the transport's within it said `::1:PORT`,
    which reads as ::1 port PORT or as an address without a port."""
    with socket.socket(socket.AF_INET6) as nothing_listens:
        nothing_listens.bind(("::1", 0))
        address = f"[::1]:{nothing_listens.getsockname()[1]}"
        done = await asyncio.to_thread(
            bench_on, database, "--mode", "transport", "--payments", "5", "--receiver", address
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        f"paywire: cannot reach the receiver at {address} (cannot connect to {address}: "
    )
