"""Fixtures of the UI tests: a folder for screenshots (the browser is `tests/fixtures/browser.py`'s,
shared with the security suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
