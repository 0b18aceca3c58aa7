"""Fixtures of the security tests: the API suite's app, clients and seeded world, so both
suites share one set of helpers."""

from __future__ import annotations

from tests.api.conftest import serve, settings, world  # noqa: F401
