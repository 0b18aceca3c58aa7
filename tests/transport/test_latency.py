"""Batched latency recording exports exactly what one observe() per value would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from paywire.transport.latency import LatencyRecorder

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def samples(histogram: Histogram, registry: CollectorRegistry) -> dict[str, float]:
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_matches_observe_including_bounds_and_overflow() -> None:
    values = [0.0, 0.0005, 0.001, 0.0011, 0.01, 0.5, 1.0, 3.0, 3.0]
    batched_registry, single_registry = CollectorRegistry(), CollectorRegistry()
    batched = Histogram("lat", "x", buckets=BUCKETS, registry=batched_registry)
    single = Histogram("lat", "x", buckets=BUCKETS, registry=single_registry)
    recorder = LatencyRecorder(batched)
    recorder.record(values[:4])
    recorder.record(values[4:])
    recorder.record([])
    for value in values:
        single.observe(value)
    assert samples(batched, batched_registry) == samples(single, single_registry)
