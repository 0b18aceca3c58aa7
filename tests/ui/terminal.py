"""Driving the terminal page like an operator: type a line, press Enter, read the screen."""

from __future__ import annotations

from playwright.async_api import Page, expect

TIMEOUT_MS = 15_000


class TerminalPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.prompt = page.locator("#prompt")
        self.label = page.locator("#prompt-label")
        self.output = page.locator("#output")

    async def enter(self, line: str) -> None:
        await self.prompt.fill(line)
        await self.prompt.press("Enter")

    async def answer(self, question: str, value: str) -> None:
        await expect(self.label).to_have_text(question, timeout=TIMEOUT_MS)
        await self.enter(value)

    async def wait_for_text(self, text: str) -> None:
        await expect(self.output).to_contain_text(text, timeout=TIMEOUT_MS)

    async def lines(self) -> list[str]:
        return await self.page.locator("#output .line").all_text_contents()

    async def login(self, username: str, password: str) -> None:
        await self.enter("login")
        await self.answer("username:", username)
        await expect(self.label).to_have_text("password:", timeout=TIMEOUT_MS)
        await expect(self.prompt).to_have_attribute("type", "password")
        await self.enter(password)
        await self.wait_for_text(f"signed in as {username}")
