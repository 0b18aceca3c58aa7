"""Browser fixtures: Debian's chromium driven by Playwright, and a screenshot folder.

Playwright never downloads a browser here; it drives /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.api.conftest import serve, settings  # noqa: F401

CHROMIUM = Path(os.environ.get("PAYWIRE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> Path:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: scripts/system-deps.sh installs it"
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        await browser.close()


class Console:
    """Errors the page logged, CSP violations included; a clean page logs none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_message)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
