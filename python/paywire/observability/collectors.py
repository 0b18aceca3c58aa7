"""Scrape-time metric sources that prometheus_client does not provide by itself.

User CPU time as its own counter (the default collector only sums user and system), and the
asyncpg pool's connection counts, read when Prometheus scrapes rather than kept up to date.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from prometheus_client.core import REGISTRY, CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from paywire.observability.metrics import db_pool_connections


class PoolSizes(Protocol):
    """The part of `asyncpg.Pool` the gauge reads."""

    def get_size(self) -> int: ...
    def get_idle_size(self) -> int: ...
    def get_max_size(self) -> int: ...


class ProcessCpuUserCollector(Collector):
    """`process_cpu_user_seconds_total`: CPU time this process spent in user mode."""

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "process_cpu_user_seconds", "User CPU time spent by the process, in seconds"
        )
        family.add_metric([], os.times().user)
        yield family


# Registered on import, like the metrics in `metrics.py`: a module is imported once.
REGISTRY.register(ProcessCpuUserCollector())


def refresh_db_pool_gauge(pool: PoolSizes) -> None:
    """Called by /metrics as Prometheus scrapes: the counts change with every acquire and
    release, and reading them once per scrape costs nothing, where keeping the gauge current
    would cost on every request."""
    size, idle = pool.get_size(), pool.get_idle_size()
    db_pool_connections.labels(state="in_use").set(size - idle)
    db_pool_connections.labels(state="idle").set(idle)
    db_pool_connections.labels(state="max").set(pool.get_max_size())
