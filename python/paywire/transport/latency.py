"""ACK latencies gathered per read and added to `tls_ack_latency_seconds` in one step.

`Histogram.observe` takes a lock and scans the buckets for every answer, which at 100k+ answers a
second is a noticeable share of a core; one update per bucket per read is not.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import Histogram


class LatencyRecorder:
    """Adds many observations to one label-less histogram at once.

    Uses the histogram's per-bucket values (`_upper_bounds`, `_buckets`, `_sum`), which is what
    `observe` itself updates; tests/transport/test_latency.py checks the exported result matches.
    """

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._bounds: tuple[float, ...] = tuple(histogram._upper_bounds)

    def record(self, seconds: list[float]) -> None:
        bounds = self._bounds
        counts = [0] * len(bounds)
        for value in seconds:
            # The first bucket whose upper bound is >= value, as observe() picks it.
            counts[bisect_left(bounds, value)] += 1
        histogram = self._histogram
        for index, count in enumerate(counts):
            if count:
                histogram._buckets[index].inc(count)
        histogram._sum.inc(sum(seconds))
