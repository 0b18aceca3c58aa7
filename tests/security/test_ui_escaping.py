"""Stored markup in the browser: the terminal page writes payment fields with textContent, so a
hostile name shows as the text it is and never becomes an element or runs."""

from __future__ import annotations

from paywire.store.tx import Pool
from tests.api.world import World
from tests.fixtures.breaks import tamper
from tests.fixtures.browser import Console, TerminalPage
from tests.fixtures.world import PASSWORD

MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b><script>window.__pwned=2</script>'
ACCOUNT_MARKUP = "ACCT-<svg/onload=1>"


async def test_markup_in_a_payment_is_shown_as_text(
    world: World, owner_pool: Pool, browser
) -> None:
    created = await world.create_payment(
        creditor={"name": MARKUP, "account": "ACCT-('onload')", "agent_bic": "BNPAFRPPXXX"},
        remittance_info="</div><iframe src=javascript:window.__pwned=3>",
    )
    # Account ids are held to SWIFT's x characters now; a payment stored before could still
    # carry markup in one.
    await tamper(
        owner_pool,
        "UPDATE payments SET creditor_account = $2 WHERE reference = $1",
        created["reference"],
        ACCOUNT_MARKUP,
    )
    page = await browser.new_page()
    console = Console(page)
    await page.goto(str(world.client.make_url("/")))
    term = TerminalPage(page)
    await term.login("auditor", PASSWORD)
    await term.enter(f"pay show {created['reference']}")
    await term.wait_for_text(MARKUP)
    lines = await term.lines()
    assert any(line.startswith("creditor ") and line.endswith(MARKUP) for line in lines)
    assert any(
        line.startswith("creditor account ") and line.endswith(ACCOUNT_MARKUP) for line in lines
    )
    assert any("</div><iframe src=javascript:window.__pwned=3>" in line for line in lines)
    output = page.locator("#output")
    assert await output.locator("img, b, script, svg, iframe").count() == 0
    assert await page.evaluate("window.__pwned") is None
    await page.context.close()
    assert console.errors == []
