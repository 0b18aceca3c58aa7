"""An operator whose password an ADMIN set chooses their own at sign-in, with hidden input,
before the terminal does anything else for them; `passwd` changes it any time."""

from __future__ import annotations

from playwright.async_api import expect

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import TIMEOUT_MS, TerminalPage, open_terminal
from tests.fixtures.world import PASSWORD

OWN = "a passphrase of my own"
CHANGED = "password changed; every session of yours has ended: log in again with the new one"


async def answer_secret(term: TerminalPage, question: str, value: str) -> None:
    await expect(term.label).to_have_text(question, timeout=TIMEOUT_MS)
    await expect(term.prompt).to_have_attribute("type", "password")
    await term.enter(value)


async def test_a_password_set_by_an_admin_is_replaced_at_sign_in(
    browser, serve, settings, db_pool
) -> None:
    await seed(db_pool, ["maker"])
    await db_pool.execute(
        "UPDATE operators SET password_change_required = true WHERE username = 'maker'"
    )
    client = await serve(create_app(settings, db_pool))
    term, console = await open_terminal(browser, str(client.make_url("/")))
    await term.login("maker", PASSWORD)
    await term.wait_for_text("your password was set by an administrator: choose your own now")
    # The password just typed is the current one; the new one is asked twice.
    await answer_secret(term, "new password:", OWN)
    await answer_secret(term, "new password again:", OWN + " typo")
    await term.wait_for_text("error: the two new passwords differ; nothing was changed")
    await term.enter("pay list")
    await term.wait_for_text("error 403 PASSWORD_CHANGE_REQUIRED")
    lines = await term.lines()
    assert not [line for line in lines if OWN in line or PASSWORD in line], "never echoed"

    await term.enter("passwd")
    await answer_secret(term, "current password:", PASSWORD)
    await answer_secret(term, "new password:", OWN)
    await answer_secret(term, "new password again:", OWN)
    await term.wait_for_text(CHANGED)
    live = await db_pool.fetchval(
        "SELECT count(*) FROM sessions s JOIN operators o ON o.id = s.operator_id"
        " WHERE o.username = 'maker' AND s.revoked_at IS NULL"
    )
    assert live == 0, "every session of the operator ended, the page's too"
    await term.enter("whoami")
    await term.wait_for_text("error 401")

    await term.login("maker", OWN)
    await term.enter("pay list")
    await term.wait_for_text("(none)")
    assert not [line for line in await term.lines() if "choose your own" in line], "asked once"
    await term.page.context.close()
    # The browser reports the refused requests itself; nothing else went wrong.
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)",
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
    ]
