"""GET /metrics: Prometheus text with every SPEC §8 name, the pool gauge read at scrape time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import get_args

from prometheus_client.parser import text_string_to_metric_families

from paywire.api import create_app
from paywire.transport.errors import FailureReason
from tests.fixtures.app import Serve
from tests.fixtures.spec import SPEC_METRICS


def _families(text: str) -> dict[str, list]:
    """Exported names: each family under its name and, for counters, with `_total` as well."""
    names: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        names[family.name] = family.samples
        if family.type == "counter":
            names[f"{family.name}_total"] = family.samples
    return names


async def test_every_spec_metric_is_exported(serve: Serve, settings, db_pool) -> None:
    client = await serve(create_app(settings, db_pool))
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = _families(await response.text())
    missing = [name for name in SPEC_METRICS if name not in families]
    assert missing == []
    # Not SPEC §8's, but the TLSConnectionErrors alert tells a restarted process by it.
    assert families["process_start_time_seconds"][0].value > 0
    http = {s.labels["route"] for s in families["http_request_duration_seconds"]}
    assert "/health" in http
    cpu = [s for s in families["process_cpu_user_seconds_total"] if s.name.endswith("_total")]
    assert cpu[0].value > 0


def test_a_fresh_process_exports_every_connection_error_reason_at_zero() -> None:
    """Before the first error, not only after it: in a process of its own, as a fresh gateway,
    since this one's counters carry what other tests did."""
    exported = subprocess.run(
        [sys.executable, "-c", "import paywire.gateway, prometheus_client as p;"
         " print(p.generate_latest().decode())"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    samples = _families(exported)["tls_connection_errors_total"]
    totals = {s.labels["reason"]: s.value for s in samples if s.name.endswith("_total")}
    assert totals == dict.fromkeys(get_args(FailureReason), 0.0)


async def test_db_pool_gauge_is_read_at_scrape_time(serve: Serve, settings, db_pool) -> None:
    client = await serve(create_app(settings, db_pool))

    async def gauge() -> dict[str, float]:
        text = await (await client.get("/metrics")).text()
        samples = _families(text)["db_pool_connections"]
        return {s.labels["state"]: s.value for s in samples}

    assert (await gauge())["max"] == db_pool.get_max_size()
    async with db_pool.acquire():
        held = await gauge()
        assert held["in_use"] >= 1
    released = await gauge()
    assert released["in_use"] == held["in_use"] - 1
    assert released["idle"] + released["in_use"] == db_pool.get_size()


async def test_health_status_gauge_mirrors_health_at_scrape_time(
    serve: Serve, settings, db_pool, unreachable_pool
) -> None:
    """0 ok, 1 degraded, 2 error: what /health answers, for the HealthCheckFailing alert."""

    async def scraped(client) -> float:
        text = await (await client.get("/metrics")).text()
        (sample,) = _families(text)["health_status"]
        return sample.value

    draining = asyncio.Event()
    client = await serve(create_app(settings, db_pool, draining=draining))
    assert (await client.get("/health")).status == 200
    assert await scraped(client) == 1  # degraded: no TLS transport in this app
    draining.set()
    assert await scraped(client) == 2
    down = await serve(create_app(settings, unreachable_pool))
    assert await scraped(down) == 2
