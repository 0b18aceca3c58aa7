"""The ratio table printed after the wire benchmarks.

Every benchmark records `extra_info["impl"]`; per group, ratio = baseline median / paywire median.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest


def _ratios(benchmarks: list[Any]) -> list[str]:
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in benchmarks:
        impl = bench.extra_info.get("impl")
        if impl and bench.stats:
            groups[bench.group or bench.name][impl] = bench.stats.median
    lines = [f"{'group':<44} {'implementation':<22} {'median':>12} {'ratio':>9}"]
    for group, medians in sorted(groups.items()):
        ours = medians.get("paywire")
        for impl, median in sorted(medians.items(), key=lambda item: item[1]):
            ratio = f"{median / ours:8.1f}x" if ours else ""
            lines.append(f"{group:<44} {impl:<22} {median * 1e6:10.2f}µs {ratio:>9}")
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    terminalreporter.section("ratio = baseline median / paywire median")
    for line in _ratios(session.benchmarks):
        terminalreporter.write_line(line)
