"""The prompt while a command runs (busy, typed-ahead lines refused, Esc aborts wherever the
focus is, requests time out), questions that die with the session, and the screen's selection
and scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import TIMEOUT_MS, Held, open_terminal
from tests.fixtures.world import PASSWORD

ME = {"id": "5b1f6a52-0d5e-4a8e-9d3b-0c6f4f0e2a11", "username": "maker", "roles": ["MAKER"]}


async def test_a_running_command_takes_no_typed_ahead_lines_and_esc_aborts_it(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")))
    held = Held()
    await term.page.route("**/api/v1/auth/me", held)

    await term.enter("whoami")
    await held.next()
    await expect(term.label).to_have_text("…")
    await expect(term.output).to_have_attribute("aria-busy", "true")
    # An operator typing `login`, a user name and a password ahead of the slow command: none
    # of it is taken, echoed, run or kept.
    for typed in ("login", "alice", "hunter2"):
        await term.page.keyboard.type(typed)
        await term.page.keyboard.press("Enter")
    await term.wait_for_text("busy: a command is running (Esc aborts it)")
    await expect(term.prompt).to_have_value("")

    await term.prompt.press("Escape")
    await term.wait_for_text("aborted")
    await expect(term.label).to_have_text("paywire>")
    await expect(term.output).to_have_attribute("aria-busy", "false")
    await expect(term.prompt).to_be_focused()
    lines = await term.lines()
    assert [line for line in lines if line.startswith("paywire>")] == ["paywire> whoami"]
    assert not [line for line in lines if "alice" in line or "hunter2" in line]
    assert len([line for line in lines if line.startswith("busy:")]) == 1
    await term.prompt.press("ArrowUp")
    await expect(term.prompt).to_have_value("whoami")
    await term.prompt.press("ArrowUp")
    await expect(term.prompt).to_have_value("whoami")

    # Ctrl+C with nothing selected aborts as Esc does; the prompt takes commands again after.
    await term.enter("whoami")
    await held.next()
    await expect(term.label).to_have_text("…")
    await term.prompt.press("Control+c")
    await expect(term.output.locator(".line.info", has_text="aborted")).to_have_count(2)

    # Esc aborts with the focus away from the prompt too (on the page, selecting text, say).
    await term.enter("whoami")
    await held.next()
    await term.prompt.blur()
    await term.page.keyboard.press("Escape")
    await expect(term.output.locator(".line.info", has_text="aborted")).to_have_count(3)
    await expect(term.prompt).to_be_focused()
    await term.enter("help")
    await term.wait_for_text("pay list [STATUS]")
    await term.page.context.close()


async def test_a_request_without_an_answer_ends_after_30_s(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True)
    held = Held()
    await term.page.route("**/api/v1/auth/me", held)

    await term.enter("whoami")
    await held.next()
    await expect(term.label).to_have_text("…")
    await term.page.clock.fast_forward(29_000)
    await expect(term.label).to_have_text("…")
    await term.page.clock.fast_forward(1_500)
    await term.wait_for_text("error: no answer from the gateway within 30 s")
    await expect(term.label).to_have_text("paywire>")
    await term.page.context.close()


async def test_a_session_that_ends_cancels_the_question_it_left_open(
    browser, serve, settings, db_pool
) -> None:
    """The next person at the workstation types a command, not an answer to the question the
    operator who left was asked."""
    await seed(db_pool, ["maker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True)
    await term.login("maker", PASSWORD)
    await term.enter("pay new")
    await expect(term.label).to_have_text("amount:", timeout=TIMEOUT_MS)

    # The session's hour is up (settings.token_ttl_s), with the question open.
    await term.page.clock.fast_forward(settings.token_ttl_s * 1000 + 1000)
    await term.wait_for_text("the session has ended")
    await expect(term.label).to_have_text("paywire>")
    await term.enter("whoami")
    await term.wait_for_text("error 401 UNAUTHENTICATED")
    lines = await term.lines()
    assert "paywire> whoami" in lines
    assert not [line for line in lines if line.startswith("amount:")]
    await term.page.context.close()


async def test_text_selected_on_screen_or_in_the_prompt_is_kept_to_copy(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")))
    page = term.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # A selection made with the mouse on the screen stays (the prompt does not take the focus
    # back from it); a plain click brings the caret back to the prompt.
    first = term.output.locator(".line").first
    box = await first.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2)
    await page.mouse.up()
    assert (await page.evaluate("document.getSelection().toString()")).startswith("paywire")
    await expect(term.prompt).not_to_be_focused()
    await term.output.click()
    await expect(term.prompt).to_be_focused()

    # Ctrl+C on text selected in the prompt copies it, and leaves the question open; with
    # nothing selected it cancels the question.
    await term.enter("login")
    await expect(term.label).to_have_text("username:")
    await term.prompt.fill("alice")
    await term.prompt.press("Control+a")
    await term.prompt.press("Control+c")
    assert await page.evaluate("navigator.clipboard.readText()") == "alice"
    await expect(term.label).to_have_text("username:")
    await term.prompt.press("End")
    await term.prompt.press("Control+c")
    await term.wait_for_text("cancelled")
    await expect(term.label).to_have_text("paywire>")
    await page.context.close()


async def test_output_follows_new_lines_only_from_the_bottom(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")))
    for _ in range(3):
        await term.enter("help")
    await expect(term.output.locator(".line", has_text=re.compile("^COMMAND"))).to_have_count(3)

    async def scroll() -> dict[str, float]:
        return await term.output.evaluate(
            "o => ({top: o.scrollTop, bottom: o.scrollHeight - o.clientHeight})"
        )

    assert (await scroll())["bottom"] > 0, "the output overflows"
    held = Held()
    await term.page.route("**/api/v1/auth/me", held)
    await term.enter("whoami")
    route = await held.next()
    # The operator reads back while the answer is on its way: it does not pull them down.
    await term.output.evaluate("o => { o.scrollTop = 0; }")
    await route.fulfill(json=ME)
    await expect(term.output).to_contain_text(re.compile(r"username +maker"))
    assert (await scroll())["top"] == 0

    # At the bottom, the view follows; the operator's own command brings it to the end.
    await term.enter("help")
    await expect(term.output.locator(".line", has_text=re.compile("^COMMAND"))).to_have_count(4)
    position = await scroll()
    assert position["top"] == position["bottom"]
    await term.page.context.close()


async def test_a_command_the_session_ends_under_leaves_nothing_for_the_next_operator(
    browser, serve, settings, db_pool
) -> None:
    """The maker's `pay new` waits for the gateway when their session runs out. Its request
    ends with the session; its late outcome (no answer, so an entry that may exist) is not
    kept for whoever signs in next, who would be offered to send it again, as their own."""
    await seed(db_pool, ["maker", "maker2"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True)
    await term.login("maker", PASSWORD)
    held = Held()
    await term.page.route("**/api/v1/payments", held)

    await term.page.clock.fast_forward((settings.token_ttl_s - 10) * 1000)
    await term.enter_payment("12.50")
    await held.next()  # the POST, unanswered
    await term.page.clock.fast_forward(11_000)
    await term.wait_for_text("the session has ended")
    await term.page.clock.fast_forward(31_000)  # past the request's own 30 s
    await term.login("maker2", PASSWORD)
    await term.enter("pay new")
    await expect(term.label).to_have_text("amount:", timeout=TIMEOUT_MS)
    lines = await term.lines()
    assert not [line for line in lines if "unconfirmed" in line or "12.50" in line], lines
    await term.page.context.close()


async def test_a_sign_in_under_way_when_the_session_ends_does_not_bring_it_back(
    browser, serve, settings, db_pool
) -> None:
    """A failed sign-in gives back the session the page held before it, unless that session
    ended while the sign-in waited: the page said so, and a command after it must not run as
    the operator who has gone."""
    await seed(db_pool, ["maker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True)
    await term.login("maker", PASSWORD)
    held = Held()
    await term.page.route("**/api/v1/auth/login", held)

    await term.page.clock.fast_forward((settings.token_ttl_s - 10) * 1000)
    await term.enter("login maker")
    await term.answer("password:", "not the password")
    login = await held.next()
    await term.page.clock.fast_forward(11_000)
    await term.wait_for_text("the session has ended")
    await login.fulfill(status=401, json={"error": {"code": "UNAUTHENTICATED", "message": "no"}})
    await term.enter("whoami")
    await term.wait_for_text("error 401 UNAUTHENTICATED")
    assert not [line for line in await term.lines() if re.search(r"username +maker", line)]
    await term.page.context.close()


@pytest.mark.parametrize("off_s", [1800, -1800], ids=["workstation-ahead", "workstation-behind"])
async def test_a_session_ends_on_screen_by_the_gateways_clock_not_the_workstations(
    browser, serve, settings, db_pool, off_s: int
) -> None:
    """The session's time left was taken from the workstation's clock: half an hour fast, it
    ended every session half an hour early; half an hour slow, it kept one on screen half an
    hour after the gateway had ended it."""
    await seed(db_pool, ["maker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True, clock_off_s=off_s)
    await term.login("maker", PASSWORD)

    await term.page.clock.fast_forward((settings.token_ttl_s - 60) * 1000)
    await term.enter("whoami")
    await expect(term.output).to_contain_text(re.compile(r"username +maker"), timeout=TIMEOUT_MS)
    assert not [line for line in await term.lines() if "the session has ended" in line]

    await term.page.clock.fast_forward(61_000)
    await term.wait_for_text("the session has ended")
    await term.page.context.close()
