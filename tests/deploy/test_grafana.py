"""deploy/grafana/dashboard.json: valid dashboard JSON, a panel for every SPEC §8 metric, the
alert thresholds of alerts.yml drawn on the panels that show them, PromQL that promtool parses.

tests/deploy/test_prometheus_scrape.py also runs every query against a real Prometheus."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.deploy.dashboard import load, panels, queries
from tests.deploy.paths import PROMETHEUS_DIR, load_yaml, tool
from tests.fixtures.spec import SPEC_METRICS

# Each alert, the metric its panel shows, and the threshold when the expression does not end
# with one (the pool alert compares two series: the panel shows their ratio).
ALERT_PANELS = {
    "PaymentFailureRateHigh": ("payments_failed_total", None),
    "TLSConnectionErrors": ("tls_connection_errors_total", None),
    "DatabasePoolExhausted": ("db_pool_connections", 1.0),
    "HealthCheckFailing": ("health_status", None),
    "PaymentProcessingLatencyHigh": ("payment_processing_duration_seconds_bucket", None),
    "ReconciliationUnmatchedItems": ("reconciliation_unmatched_items", None),
    "CircuitBreakerOpen": ("tls_circuit_breaker_state", None),
}


def test_dashboard_shape() -> None:
    dashboard = load()
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["title"]
    assert dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "instance"}
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert 'job="paywire"' in target["expr"], f"{panel['title']}: unscoped query"


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in load()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_spec_metric_has_a_panel() -> None:
    text = "\n".join(queries())
    missing = [m for m in SPEC_METRICS if not re.search(rf"\b{m}(_bucket|_count|_sum)?\b", text)]
    assert missing == []


def alert_thresholds() -> dict[str, float]:
    out = {}
    for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"]:
        for rule in group["rules"]:
            _metric, fixed = ALERT_PANELS[rule["alert"]]
            found = re.search(r"(?:>|>=|==)\s*([0-9.]+)\s*$", rule["expr"].strip())
            out[rule["alert"]] = fixed if fixed is not None else float(found.group(1))
    return out


def test_alert_thresholds_are_drawn_on_their_panels() -> None:
    for alert, threshold in alert_thresholds().items():
        metric = ALERT_PANELS[alert][0]
        showing = [p for p in panels() if any(metric in t["expr"] for t in p["targets"])]
        drawn = [
            p["title"]
            for p in showing
            if threshold
            in [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        ]
        assert drawn, f"{alert}: no panel showing {metric} draws its threshold {threshold}"
    # Time series draw their thresholds as lines (stat panels colour by them).
    for panel in panels():
        defaults = panel["fieldConfig"]["defaults"]
        if panel["type"] == "timeseries" and len(defaults["thresholds"]["steps"]) > 1:
            assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", panel["title"]


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
