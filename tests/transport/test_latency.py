"""Batched latency recording exports exactly what one observe() per value would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from paywire.transport.latency import LatencyRecorder

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def samples(registry: CollectorRegistry) -> dict[str, float]:
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize(
    ("now", "starts"),
    [
        # Latencies since time 0 of starts before it: exactly the values, bucket bounds included.
        (0.0, [-v for v in (0.0, 0.0005, 0.001, 0.0011, 0.01, 0.5, 1.0, 3.0, 3.0)]),
        # Start times repeat as they do within one write batch; dyadic values keep sums exact.
        (8.0, [8.0, 7.5, 7.5, 8.0 - 1 / 128, 5.0, 5.0, 7.0, 8.0 - 1 / 1024]),
    ],
    ids=["bounds-and-overflow", "repeated-starts"],
)
def test_record_since_matches_observe_of_each_latency(now: float, starts: list[float]) -> None:
    batched_registry, single_registry = CollectorRegistry(), CollectorRegistry()
    batched = Histogram("lat", "x", buckets=BUCKETS, registry=batched_registry)
    single = Histogram("lat", "x", buckets=BUCKETS, registry=single_registry)
    recorder = LatencyRecorder(batched)
    recorder.record_since(now, starts[:3])
    recorder.record_since(now, starts[3:])
    recorder.record_since(now, [])
    for start in starts:
        single.observe(now - start)
    assert samples(batched_registry) == samples(single_registry)
