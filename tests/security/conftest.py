"""Fixtures of the security tests: the API suite's seeded world, so both suites share one set of
helpers (`settings` and `serve` are every suite's, from `tests/fixtures/app.py`)."""

from __future__ import annotations

from tests.api.conftest import world  # noqa: F401
