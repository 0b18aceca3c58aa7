"""ACK latencies gathered per read and added to `tls_ack_latency_seconds` in one step.

`Histogram.observe` takes a lock and scans the buckets for every answer, which at 100k+ answers a
second is a noticeable share of a core; one update per bucket per read is not.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

from prometheus_client import Histogram


class LatencyRecorder:
    """Adds many observations to one label-less histogram at once.

    Uses the histogram's per-bucket values (`_upper_bounds`, `_buckets`, `_sum`), which is what
    `observe` itself updates; tests/transport/test_latency.py checks the exported result matches.
    """

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._bounds: tuple[float, ...] = tuple(histogram._upper_bounds)

    def record_since(self, now: float, starts: list[float]) -> None:
        """Adds `now - start` for every start; the starts of one write batch are one value, so
        each distinct start is bucketed once, however many answers share it."""
        bounds = self._bounds
        counts = [0] * len(bounds)
        total = 0.0
        for start, n in Counter(starts).items():
            value = now - start
            counts[bisect_left(bounds, value)] += n
            total += value * n
        histogram = self._histogram
        for index, count in enumerate(counts):
            if count:
                histogram._buckets[index].inc(count)
        histogram._sum.inc(total)
