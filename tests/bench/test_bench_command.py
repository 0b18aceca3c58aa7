"""`paywire bench` as a user runs it, on a small load: self-contained, every mode, JSON out;
and the runs it refuses.

A smoke run only: every payment settled and a well-formed report; the figures themselves belong
in benches/RESULTS.md, never in assertions.
"""

from __future__ import annotations

import asyncio
import math
import re
import subprocess
import sys

import orjson
import pytest

from paywire.store.tx import Pool
from tests.fixtures.environ import clean_environ
from tests.fixtures.tls import REFUSING_PORT

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
        ("--rate", "nan", "--rate must be a finite number"),
        ("--rate", "inf", "--rate must be a finite number"),
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


@pytest.mark.parametrize("mode", ["e2e", "transport"])
async def test_a_receiver_that_cannot_be_reached_ends_the_run_saying_so(
    database: str, mode: str
) -> None:
    """It dialled for ever, logging each refused connection and the breaker's changes; now it
    gives up before the timed part, at the latest when the circuit breaker opens."""
    address = f"127.0.0.1:{REFUSING_PORT}"
    done = await asyncio.to_thread(
        bench, "--mode", mode, "--payments", "5", "--database-url", database, "--receiver", address
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    refusals = [line for line in done.stderr.splitlines() if line.startswith("paywire: ")]
    assert refusals == [done.stderr.splitlines()[-1]]
    assert refusals[0].startswith(f"paywire: cannot reach the receiver at {address} (")
    assert refusals[0].endswith("Connection refused): check --receiver and --receiver-ca")
