"""A real Prometheus (Debian's `prometheus`) scraping a real `paywire serve` every second, with
deploy/prometheus/alerts.yml loaded: the counters arrive as the payments settle, every rule
evaluates without error, the failure-rate alert fires on the NACKs and nothing else does, and
every query of the Grafana dashboard runs.

Prometheus listens on 127.0.0.1 with its storage in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml

from paywire.config import Settings
from tests.deploy import dashboard
from tests.deploy.conftest import PROBE_EVERY_S, Live
from tests.deploy.paths import PROMETHEUS_DIR, load_yaml, tool
from tests.fixtures.ports import free_port
from tests.fixtures.waiting import poll


class Prometheus:
    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http

    async def api(self, path: str, **params: str) -> object:
        async with self.http.get(f"{self.url}/api/v1/{path}", params=params) as response:
            payload = await response.json()
            assert payload["status"] == "success", payload
            return payload["data"]

    async def query(self, expr: str) -> dict[str, float]:
        """Instant query: each series' value, keyed by its `instance` label (or '')."""
        data = await self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in data["result"]}

    async def value(self, expr: str, expected: float, timeout_s: float = 30.0) -> None:
        """Poll until `expr` has exactly one series with the value `expected`."""
        await poll(
            lambda: self.query(expr),
            timeout_s,
            what=f"{expr} == {expected}",
            until=lambda series: list(series.values()) == [expected],
            interval_s=PROBE_EVERY_S,
        )


def config(gateway_url: str, port: int) -> dict:
    """deploy/prometheus/prometheus.yml with the test's targets, rules by absolute path, and
    one-second intervals."""
    cfg = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s")
    cfg["rule_files"] = [str(PROMETHEUS_DIR / name) for name in cfg["rule_files"]]
    target = urlsplit(gateway_url).netloc
    for job in cfg["scrape_configs"]:
        own = f"127.0.0.1:{port}" if job["job_name"] == "prometheus" else target
        job["static_configs"] = [{"targets": [own]}]
        job["scrape_timeout"] = "1s"
    return cfg


@pytest.fixture
async def prometheus(live: Live, tmp_path: Path) -> AsyncIterator[Prometheus]:
    port = free_port()
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config(live.url, port)))
    log = (tmp_path / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        tool("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                assert process.returncode is None, (tmp_path / "prometheus.log").read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/-/ready") as response:
                        return response.status == 200
                return False

            await poll(ready, 60, what="Prometheus ready", interval_s=PROBE_EVERY_S)
            yield Prometheus(url, http)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def test_prometheus_scrapes_the_gateway_and_evaluates_the_alerts(
    live: Live, prometheus: Prometheus
) -> None:
    # The first scrape sees the counters at zero, so the increases that follow are rates.
    await prometheus.value('up{job="paywire"}', 1)
    await prometheus.value('payments_completed_total{job="paywire"}', 0)

    ids = await live.pay("10.00", "20.00", "30.00", "950.00")  # the receiver NACKs 950.00
    assert sorted(live.payments[i] for i in ids) == [
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "FAILED",
    ]

    await prometheus.value('payments_completed_total{job="paywire"}', 3)
    await prometheus.value('payments_failed_total{job="paywire"}', 1)
    await prometheus.value('payments_initiated_total{job="paywire"}', 4)
    await prometheus.value('payments_approved_total{job="paywire"}', 4)
    await prometheus.value('tls_acks_received_total{job="paywire"}', 3)
    await prometheus.value('payment_processing_duration_seconds_count{job="paywire"}', 4)
    await prometheus.value('health_status{job="paywire"}', 0)
    pool_max = Settings().db_pool_max  # the gateway runs with the default
    await prometheus.value('db_pool_connections{job="paywire", state="max"}', pool_max)

    # 1 failed of 4 settled is 25 %: the failure-rate alert fires (it has no `for`), and no
    # other alert does on a healthy gateway.
    async def firing() -> list[str]:
        alerts = (await prometheus.api("alerts"))["alerts"]
        return sorted(a["labels"]["alertname"] for a in alerts if a["state"] == "firing")

    fired = await poll(firing, 30, what="an alert firing", interval_s=PROBE_EVERY_S)
    assert fired == ["PaymentFailureRateHigh"]
    pending = [a for a in (await prometheus.api("alerts"))["alerts"] if a["state"] != "firing"]
    assert pending == []

    # Every rule of alerts.yml evaluated against the real series without an error (a label
    # mismatch in a vector match, say, only shows here).
    groups = (await prometheus.api("rules", type="alert"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 7
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    # Every dashboard query runs, and returns data once its series have two samples in range;
    # TLS errors excepted: a labelled counter has no series before its first error.
    for expr in dashboard.queries():
        await prometheus.api("query", query=expr)  # runs without an error
        if "tls_connection_errors_total" in expr:
            continue

        async def answered(expr: str = expr) -> bool:
            return bool((await prometheus.api("query", query=expr))["result"])

        await poll(answered, 30, what=f"dashboard query {expr}", interval_s=PROBE_EVERY_S)
