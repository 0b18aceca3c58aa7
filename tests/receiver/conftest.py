"""Run these tests on uvloop, the loop paywire runs on in production."""

from tests.fixtures.uvloop import pytest_asyncio_loop_factories

__all__ = ["pytest_asyncio_loop_factories"]
