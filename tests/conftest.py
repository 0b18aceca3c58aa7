"""Shared fixtures: each family lives in `tests/fixtures/` and is registered here once."""

from hypothesis import settings

pytest_plugins: list[str] = [
    "tests.fixtures.tls",
    "tests.fixtures.postgres",
    "tests.fixtures.world",
    "tests.fixtures.gateway",
    "tests.fixtures.redis",
    "tests.fixtures.app",
    "tests.fixtures.browser",
]

# No time limit per example: Hypothesis's default (200 ms) is a timed assertion, which a loaded
# CI machine fails for no fault of the code. Properties are bounded by their example counts.
settings.register_profile("paywire", deadline=None)
settings.load_profile("paywire")
