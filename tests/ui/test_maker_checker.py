"""End to end in the browser: a maker enters a payment with `pay new`, a checker approves it
from another session, and the maker's screen follows it live until the receiver's ACK has
completed it — through the real pipeline, TLS pool and reference receiver."""

from __future__ import annotations

import re

from playwright.async_api import expect

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import TIMEOUT_MS, signed_in

REFERENCE = re.compile(r"created (PW-\d{8}-[0-9A-Z]{8}): 1250\.00 EUR INITIATED")


async def test_maker_enters_checker_approves_screen_follows_it_to_completed(
    browser, serve, settings, db_pool, artifacts, start_gateway
) -> None:
    await seed(db_pool, ["maker", "checker"])
    gateway = await start_gateway()
    client = await serve(
        create_app(settings, db_pool, transport=gateway.pool, pipeline=gateway.pipeline)
    )
    url = str(client.make_url("/"))

    maker, maker_console = await signed_in(browser, url, "maker")

    await maker.enter_payment("1250.00", end_to_end_id="INV-2026-0042")
    await maker.wait_for_text("created PW-")
    created = next(m for line in await maker.lines() if (m := REFERENCE.search(line)))
    reference = created.group(1)

    checker, checker_console = await signed_in(browser, url, "checker")
    await checker.enter(f"approve {reference}")
    await checker.wait_for_text(f"{reference} approved: APPROVED")

    # The maker did nothing: the watcher polled the API and printed each change, up to the
    # receiver's ACK.
    updates = maker.page.locator("#output .line.update")
    await expect(updates.last).to_contain_text(f"{reference}  ", timeout=TIMEOUT_MS)
    await expect(updates.last).to_contain_text("→ COMPLETED", timeout=TIMEOUT_MS)
    await maker.enter("pay list")
    await maker.wait_for_text("REFERENCE")
    row = next(line for line in await maker.lines() if re.match(rf"{reference} +COMPLETED", line))
    assert re.search(r" 1250\.00  EUR  ", row)
    await maker.page.screenshot(path=artifacts / "ui-maker-checker.png", full_page=True)
    # Closed here, so no poll reaches the server after the test's database is gone.
    await maker.page.context.close()
    await checker.page.context.close()
    assert maker_console.errors == []
    assert checker_console.errors == []
