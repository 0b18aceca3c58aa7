"""Shared fixtures: each family lives in `tests/fixtures/` and is registered here once."""

pytest_plugins: list[str] = [
    "tests.fixtures.tls",
    "tests.fixtures.postgres",
    "tests.fixtures.world",
    "tests.fixtures.gateway",
    "tests.fixtures.redis",
    "tests.fixtures.app",
    "tests.fixtures.browser",
]
