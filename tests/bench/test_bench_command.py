"""`paywire bench` as a user runs it, on a small load: self-contained, every mode, JSON out.

A smoke run only: the figures themselves belong in benches/RESULTS.md, never in assertions.
The one bound here guards what `peak_rss_mb` measures (the timed part, not the set-up's argon2
hashes, 64 MiB each), which is far from any figure a run of 60 payments could reach.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import orjson

from paywire.store.tx import Pool

KEYS = {
    "mode",
    "payments",
    "seconds",
    "payments_per_s",
    "latency_ms",
    "cpu_s_per_1000",
    "peak_rss_mb",
}


async def test_bench_runs_every_mode_self_contained_and_reports_json(
    database: str, db_pool: Pool
) -> None:
    """Self-contained even where DATABASE_URL is set, as the runbook has operators export it:
    a bench run writes its operators, an overdrawn account and N payments only into a
    database named by --database-url."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "paywire.cli", "bench", "--mode", "all", "--payments", "60",
         "--json", "--db-profile"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DATABASE_URL": database},
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
        assert report["payments"] == 60
        assert report["payments_per_s"] > 0
        assert set(report["latency_ms"]) == {"p50", "p95", "p99"}
        assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
        # The run's own peak: the set-up hashed the bench operators' passwords with argon2
        # (64 MiB), which put every run's peak at ~130 MB while 60 payments need ~75.
        assert report["peak_rss_mb"] < 110, report
    assert "database time by statement" in result.stderr
    statements = re.findall(
        r"^ +\d+\.\d +\d+ +\d+  (top|nested) +(\S.*)$", result.stderr, re.MULTILINE
    )

    def reported(level: str, start: str) -> bool:
        return any(lv == level and s.startswith(start) for lv, s in statements)

    assert reported("top", 'COPY "audit_logs"'), result.stderr
    # Statements triggers run are profiled too: here the work list following a status change.
    assert reported("nested", "INSERT INTO payment_work"), result.stderr
