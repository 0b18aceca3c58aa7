"""End to end (Part 8): `paywire bench --mode all`, its three modes side by side in one run, and
e2e as a share of min(db, transport), the baseline its target is measured against.

Self-contained, as `paywire bench` is: embedded PostgreSQL, the reference receiver in its own
process, the pipeline as `serve` runs it. `python benches/bench_e2e.py` prints the table for
RESULTS.md; `make bench` runs it through pytest-benchmark. BENCH_PAYMENTS payments per mode
(default 20,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from machine import describe

PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "20000"))
# Part 8's targets, printed beside what was measured.
TARGET_PER_S = 3_000
TARGET_SHARE = 0.70


def measure() -> list[dict[str, Any]]:
    """One `paywire bench --mode all --json` run, in a process of its own: a report per mode."""
    done = subprocess.run(
        [sys.executable, "-m", "paywire.cli", "bench", "--mode", "all",
         "--payments", str(PAYMENTS), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"paywire bench failed ({done.returncode}):\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def table(reports: list[dict[str, Any]]) -> str:
    by_mode = {r["mode"]: r for r in reports}
    lines = [
        "| mode | payments | payments/s | p50 ms | p95 ms | p99 ms | CPU s / 1,000 | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in ("e2e", "transport", "db"):
        r = by_mode[mode]
        latency = r["latency_ms"]
        lines.append(
            f"| {mode} | {r['payments']:,} | {r['payments_per_s']:,.0f} | {latency['p50']:,.1f} "
            f"| {latency['p95']:,.1f} | {latency['p99']:,.1f} | {r['cpu_s_per_1000']:.3f} "
            f"| {r['peak_rss_mb']:.1f} |"
        )
    e2e = by_mode["e2e"]["payments_per_s"]
    baseline = min(by_mode["db"]["payments_per_s"], by_mode["transport"]["payments_per_s"])
    lines += [
        "",
        f"e2e {e2e:,.0f}/s against a target of {TARGET_PER_S:,}/s; e2e is {e2e / baseline:.0%} of "
        f"min(db, transport) = {baseline:,.0f}/s (target ≥ {TARGET_SHARE:.0%}).",
    ]
    return "\n".join(lines)


def run() -> str:
    return f"{describe()}; {PAYMENTS:,} payments per mode\n\n{table(measure())}"


def test_end_to_end_throughput(benchmark: Any) -> None:
    """pytest-benchmark entry: the three modes, printed as a table."""
    report: list[str] = []
    benchmark.pedantic(lambda: report.append(run()), rounds=1, iterations=1)
    benchmark.extra_info["report"] = report[-1]
    print("\n" + report[-1])


if __name__ == "__main__":
    print(run())
