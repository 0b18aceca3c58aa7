"""`paywire bench` as a user runs it, on a small load: self-contained, every mode, JSON out.

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

from paywire.store.tx import Pool
from tests.fixtures.environ import clean_environ

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
