"""The terminal UI in a real browser: commands, history, hidden password input, strict CSP."""

from __future__ import annotations

import dataclasses
import re

import pytest
from playwright.async_api import Page, expect

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import TIMEOUT_MS, Console, TerminalPage
from tests.fixtures.world import PASSWORD


async def test_help_history_and_cancelled_login(browser, serve, settings, db_pool) -> None:
    client = await serve(create_app(settings, db_pool))
    page = await browser.new_page()
    console = Console(page)
    await page.goto(str(client.make_url("/")))
    term = TerminalPage(page)
    await term.wait_for_text("Type help")
    await expect(term.prompt).to_be_focused()

    await term.enter("help")
    await term.wait_for_text("pay list [STATUS]")
    header = next(line for line in await term.lines() if line.startswith("COMMAND"))
    usage_width = header.index("DOES")
    rows = [line for line in await term.lines() if line.startswith(("approve ID", "tls "))]
    assert all(line[usage_width - 2 : usage_width] == "  " for line in rows)
    # Without a DATE the report is today's: help shows it optional, as it shows [STATUS].
    assert any(line.startswith("recon daily [DATE] | ") for line in await term.lines())

    await term.enter("whoami")
    await term.wait_for_text("error 401 UNAUTHENTICATED")

    await term.prompt.press("ArrowUp")
    await expect(term.prompt).to_have_value("whoami")
    await term.prompt.press("ArrowUp")
    await expect(term.prompt).to_have_value("help")
    await term.prompt.press("ArrowDown")
    await expect(term.prompt).to_have_value("whoami")
    await term.prompt.press("ArrowDown")
    await expect(term.prompt).to_have_value("")

    await term.enter("login")
    await term.answer("username:", "nobody")
    await expect(term.label).to_have_text("password:", timeout=TIMEOUT_MS)
    await expect(term.prompt).to_have_attribute("type", "password")
    await term.prompt.fill("not-shown-anywhere")
    await term.prompt.press("Escape")
    await term.wait_for_text("cancelled")
    await expect(term.prompt).to_have_attribute("type", "text")
    assert "not-shown-anywhere" not in " ".join(await term.lines())

    await term.enter("frobnicate <b>x</b>")
    await term.wait_for_text("unknown command: frobnicate")
    assert await page.locator("#output b").count() == 0
    # The browser reports the refused whoami's response itself; nothing else went wrong.
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


async def test_signing_in_again_revokes_the_previous_session(
    browser, serve, settings, db_pool
) -> None:
    await seed(db_pool, ["maker", "checker"])
    client = await serve(create_app(settings, db_pool))
    page = await browser.new_page()
    await page.goto(str(client.make_url("/")))
    term = TerminalPage(page)
    await term.login("maker", PASSWORD)
    await term.login("checker", PASSWORD)

    async def live_sessions() -> dict[str, int]:
        rows = await db_pool.fetch(
            "SELECT o.username, count(*) FILTER (WHERE s.revoked_at IS NULL) AS live"
            " FROM sessions s JOIN operators o ON o.id = s.operator_id GROUP BY o.username"
        )
        return {row["username"]: row["live"] for row in rows}

    assert await live_sessions() == {"maker": 0, "checker": 1}
    # A failed sign-in keeps the session the page has.
    await term.enter("login maker")
    await expect(term.label).to_have_text("password:", timeout=TIMEOUT_MS)
    await term.enter("wrong password")
    await term.wait_for_text("error 401")
    await term.enter("whoami")
    await expect(term.output).to_contain_text(re.compile(r"username +checker"), timeout=TIMEOUT_MS)
    assert await live_sessions() == {"maker": 0, "checker": 1}
    # Signing out revokes the token and takes what the operator saw off the screen.
    await term.enter("logout")
    await term.wait_for_text("signed out")
    assert not [line for line in await term.lines() if "checker" in line]
    assert await live_sessions() == {"maker": 0, "checker": 0}
    await page.close()


async def recalled(term: TerminalPage, presses: int = 6) -> list[str]:
    """What Up brings back, press after press, from an empty prompt."""
    seen = []
    for _ in range(presses):
        await term.prompt.press("ArrowUp")
        seen.append(await term.prompt.input_value())
    return seen


async def left_clean(term: TerminalPage, who: str) -> None:
    """Nothing of `who` on the screen, and nothing for Up to bring back."""
    assert not [line for line in await term.lines() if who in line], "the screen is cleared"
    assert await recalled(term) == [""] * 6


async def maker_at_work(browser, serve, settings, db_pool) -> tuple[Page, TerminalPage]:
    """A page of the terminal, the maker signed in on it and shown by `whoami`."""
    await seed(db_pool, ["maker", "checker"])
    client = await serve(create_app(settings, db_pool))
    page = await browser.new_page()
    await page.goto(str(client.make_url("/")))
    term = TerminalPage(page)
    await term.login("maker", PASSWORD)
    await term.enter("whoami")
    await expect(term.output).to_contain_text(re.compile(r"username +maker"), timeout=TIMEOUT_MS)
    return page, term


async def test_logout_forgets_the_command_history(browser, serve, settings, db_pool) -> None:
    page, term = await maker_at_work(browser, serve, settings, db_pool)
    rejection = "reject PW-20261127-NOSUCH1 duplicate of the alice order"
    await term.enter(rejection)
    await term.wait_for_text("error 40")
    await term.prompt.press("ArrowUp")
    await expect(term.prompt).to_have_value(rejection)
    await term.prompt.press("ArrowDown")

    # The next person at the workstation gets nothing back from Up or Down.
    await term.enter("logout")
    await term.wait_for_text("signed out")
    assert await recalled(term) == [""] * 6
    await term.prompt.press("ArrowDown")
    await expect(term.prompt).to_have_value("")

    # Nor after signing in themselves: Up brings back only their own `login`.
    await term.login("checker", PASSWORD)
    assert await recalled(term) == ["login"] * 6
    await page.close()


@pytest.mark.parametrize("command", ["pay list", "pay new", "logout"])
async def test_a_session_the_server_ended_leaves_the_page_as_logout_does(
    browser, serve, settings, db_pool, command: str
) -> None:
    """The command whose request found the session ended says so (`pay new` reports its
    errors itself), and the page is left as logout leaves it."""
    page, term = await maker_at_work(browser, serve, settings, db_pool)
    # Age the session, as tests/api/test_auth.py does: its expiry moves an hour into the past.
    await db_pool.execute(
        "UPDATE sessions SET created_at = created_at - interval '2 hours',"
        " expires_at = expires_at - interval '1 hour'"
    )
    if command == "pay new":
        await term.enter_payment("12.50")
    else:
        await term.enter(command)
    await term.wait_for_text("error 401")
    await term.wait_for_text("the session has ended")
    await left_clean(term, "maker")
    await page.close()


async def test_a_session_that_expires_while_nobody_types_ends_on_the_page(
    browser, serve, settings, db_pool
) -> None:
    """Left unattended, the page shows the operator's screen until its session's end, not
    until someone next types a command."""
    short = dataclasses.replace(settings, token_ttl_s=2)
    page, term = await maker_at_work(browser, serve, short, db_pool)
    await term.wait_for_text("the session has ended")
    await left_clean(term, "maker")
    await page.close()


async def test_another_operator_signing_in_takes_over_a_clean_page(
    browser, serve, settings, db_pool
) -> None:
    """Signing in as someone else replaces the session, and the screen and history with it;
    the same operator signing in again keeps what they had."""
    page, term = await maker_at_work(browser, serve, settings, db_pool)
    await term.login("maker", PASSWORD)
    assert [line for line in await term.lines() if "username" in line and "maker" in line]
    await term.login("checker", PASSWORD)
    await term.wait_for_text("signed in as checker")
    await left_clean(term, "maker")
    await page.close()
