"""The Grafana dashboard's queries, with its template variables filled in as Grafana would."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.paths import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "dashboard.json"


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel that draws something (rows excluded, panels inside rows included)."""
    out = []
    for panel in (dashboard or load())["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def queries(instance: str = ".*") -> list[str]:
    """Every PromQL expression, with `$instance` as the "All" option matches it."""
    return [
        target["expr"].replace("$instance", instance)
        for panel in panels()
        for target in panel["targets"]
    ]
