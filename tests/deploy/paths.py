"""Where the deployment files live, and the tools the deploy tests drive.

A tool the suite installs (`scripts/system-deps.sh`, the dev extras) that is missing fails the
test that needs it: a check that silently skips is no check.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from paywire.config import Settings
from paywire.gateway import HTTP_SHUTDOWN_S
from paywire.pipeline.runner import SETTLER_STOP_MIN_S
from paywire.transport.pool import CLOSE_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
K8S_DIR = DEPLOY / "k8s"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
VENV_BIN = Path(sys.executable).parent


def stop_s() -> float:
    """The longest a gateway takes to stop after SIGTERM with the default settings: the drain,
    the answers received written, the receiver's goodbye to each connection, the HTTP requests
    still open. A platform's grace period must be longer, or its kill lands mid-way."""
    return Settings().drain_timeout_s + SETTLER_STOP_MIN_S + CLOSE_TIMEOUT_S + HTTP_SHUTDOWN_S


def tool(name: str) -> str:
    """The path of `name` (the virtualenv's first, then PATH); fails the test when absent."""
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: `make pytest` installs it (scripts/system-deps.sh)"
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


_FENCE = re.compile(r"^```.*?^```$", re.S | re.M)
_HEADING = re.compile(r"^#+ (.+)$", re.M)


def headings(markdown: str) -> list[tuple[int, str]]:
    """(offset, text) of each Markdown heading, in order; `#` lines inside fenced code are
    shell comments, not headings."""
    blanked = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), markdown)
    return [(m.start(), m.group(1).strip()) for m in _HEADING.finditer(blanked)]


def anchor(heading: str) -> str:
    """The anchor GitHub makes of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
