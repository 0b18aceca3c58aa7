"""`pay new` where the page is not a secure context (no crypto.randomUUID), and an entry whose
POST got no answer, or a 5xx: sent again with its key, it is created once."""

from __future__ import annotations

import re

from playwright.async_api import Route

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import signed_in

# What the page has over plain http to an IP address: crypto without randomUUID.
INSECURE = "delete Crypto.prototype.randomUUID;"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
AGAIN = "send that entry again, with the same key? [Y/n]:"
UNCONFIRMED = "unconfirmed: the payment may or may not exist"


class LossyGateway:
    """POST /api/v1/payments: the first reaches the gateway, which creates the payment, but
    its answer is lost on the way back; the second is answered 503 by something in between;
    the rest go through. Each one's Idempotency-Key is kept."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []

    async def __call__(self, route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        self.keys.append(await route.request.header_value("Idempotency-Key"))
        if len(self.keys) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        elif len(self.keys) == 2:
            error = {"code": "HTTP_503", "message": "upstream unavailable", "details": []}
            await route.fulfill(status=503, json={"error": error, "request_id": None})
        else:
            await route.continue_()


async def test_an_unconfirmed_entry_is_sent_again_with_its_key_and_created_once(
    browser, serve, settings, db_pool
) -> None:
    await seed(db_pool, ["maker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "maker", init_script=INSECURE)
    assert await term.page.evaluate("typeof crypto.randomUUID") == "undefined"
    gateway = LossyGateway()
    await term.page.route("**/api/v1/payments", gateway)

    await term.enter_payment("12.50")
    await term.wait_for_text(UNCONFIRMED)
    await term.wait_for_text("error: no answer from the gateway (Failed to fetch)")

    # The next `pay new` offers the same entry first; this attempt is answered 503.
    await term.enter("pay new")
    await term.wait_for_text("unconfirmed entry: 12.50 EUR from ACME GmbH to Globex SA")
    await term.answer(AGAIN, "")
    await term.wait_for_text("error 503 HTTP_503: upstream unavailable")
    await term.enter("pay new")
    await term.answer(AGAIN, "y")
    await term.wait_for_text("already created PW-")
    created = [line for line in await term.lines() if "created PW-" in line]
    assert len(created) == 1
    assert created[0].endswith("12.50 EUR INITIATED (by the first attempt; not entered twice)")

    lines = await term.lines()
    assert len([line for line in lines if line.startswith(UNCONFIRMED)]) == 2
    assert not [line for line in lines if line.startswith("amount:")][1:], "asked once"
    first, *again = gateway.keys
    assert first is not None
    assert UUID4.fullmatch(first)
    assert again == [first, first]
    assert await db_pool.fetchval("SELECT count(*) FROM payments") == 1

    # Confirmed, the entry is not offered again: a new one is asked for.
    await term.enter("pay new")
    await term.answer("amount:", "1.00")
    await term.prompt.press("Escape")
    await term.wait_for_text("cancelled")
    assert not [line for line in await term.lines() if line.startswith(AGAIN)][2:]
    await term.page.context.close()


async def test_an_entry_the_operator_declines_to_send_again_is_dropped(
    browser, serve, settings, db_pool
) -> None:
    await seed(db_pool, ["maker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "maker")
    gateway = LossyGateway()
    await term.page.route("**/api/v1/payments", gateway)
    await term.enter_payment("12.50")
    await term.wait_for_text(UNCONFIRMED)

    await term.enter("pay new")
    await term.answer(AGAIN, "n")
    await term.answer("amount:", "")
    await term.prompt.press("Escape")
    await term.wait_for_text("cancelled")
    await term.enter("pay new")
    await term.answer("amount:", "")
    await term.page.context.close()
