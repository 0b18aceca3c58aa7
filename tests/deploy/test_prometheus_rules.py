"""The alert rules and the scrape configuration, checked and unit-tested by promtool.

`promtool test rules` runs deploy/prometheus/alerts.test.yml; the tests here also make sure that
file keeps a firing and a quiet case for every alert, and that every alert points at a section
of the runbook that exists.
"""

from __future__ import annotations

import subprocess

from tests.deploy.paths import PROMETHEUS_DIR, RUNBOOK, anchor, headings, load_yaml, tool

ALERTS = {
    # SPEC §8: critical
    "PaymentFailureRateHigh": "critical",
    "TLSConnectionErrors": "critical",
    "DatabasePoolExhausted": "critical",
    "HealthCheckFailing": "critical",
    # SPEC §8: warning
    "PaymentProcessingLatencyHigh": "warning",
    "ReconciliationUnmatchedItems": "warning",
    "CircuitBreakerOpen": "warning",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rules() -> list[dict]:
    return [
        rule
        for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"]
        for rule in group["rules"]
    ]


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_checks_the_config_and_the_rule_files_it_names() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_promtool_rule_tests_pass() -> None:
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_are_the_spec_alerts_with_their_severities() -> None:
    found = {rule["alert"]: rule["labels"]["severity"] for rule in rules()}
    assert found == ALERTS


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = load_yaml(PROMETHEUS_DIR / "alerts.test.yml")
    assert cases["rule_files"] == ["alerts.yml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in cases["tests"]:
        for check in test.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == set(ALERTS), "alerts without a firing case"
    assert quiet == set(ALERTS), "alerts without a quiet case"


def test_every_alert_links_to_a_runbook_section() -> None:
    anchors = {anchor(title) for _, title in headings(RUNBOOK.read_text())}
    for rule in rules():
        link = rule["annotations"]["runbook"]
        path, _, target = link.partition("#")
        assert path == "docs/RUNBOOK.md", rule["alert"]
        assert target in anchors, f"{rule['alert']}: no section #{target} in docs/RUNBOOK.md"
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
