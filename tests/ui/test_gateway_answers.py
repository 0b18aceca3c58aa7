"""What the gateway (or something in between) answers, put on screen safely: text with control
and bidirectional characters outside tables, answers that are not JSON or are cut off, a list
without items."""

from __future__ import annotations

from playwright.async_api import expect

from paywire.api import create_app
from tests.fixtures.browser import open_terminal

REQUEST_ID = "req-7f3a9c"


async def test_server_text_outside_tables_keeps_to_its_line_and_order(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")))
    message = "no payment \u202eKCATTA\u202c\u0007 here\u2028next"
    error = {"code": "NOT_FOUND", "message": message, "details": ["ref\u200f\u0000"]}
    await term.page.route(
        "**/api/v1/payments/PW-X",
        lambda route: route.fulfill(status=404, json={"error": error, "request_id": None}),
    )
    await term.enter("pay show PW-X")
    await term.wait_for_text("error 404 NOT_FOUND")
    lines = await term.lines()
    assert "error 404 NOT_FOUND: no payment \ufffdKCATTA\ufffd\ufffd here\ufffdnext" in lines
    assert "  ref\ufffd\ufffd" in lines
    await term.page.context.close()


async def test_answers_that_cannot_be_read_keep_their_status_and_request_id(
    browser, serve, settings, db_pool
) -> None:
    client = await serve(create_app(settings, db_pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")))
    headers = {"X-Request-Id": REQUEST_ID}
    page = term.page
    await page.route(
        "**/api/v1/auth/me",
        lambda route: route.fulfill(
            headers=headers, content_type="application/json", body='{"username": "mak'
        ),
    )
    await page.route(
        "**/api/v1/audit-logs*",
        lambda route: route.fulfill(
            status=200, headers=headers, content_type="text/html", body="<html>login</html>"
        ),
    )
    await page.route(
        "**/api/v1/payments?*", lambda route: route.fulfill(json={"next_cursor": None})
    )

    await term.enter("whoami")
    await term.wait_for_text(f"(request id {REQUEST_ID})")
    await term.enter("audit")
    await expect(term.output.locator(".line", has_text=REQUEST_ID)).to_have_count(2)
    unreadable = "the gateway's answer could not be read (not JSON, or cut off)"
    errors = [line for line in await term.lines() if line.startswith("error")]
    assert errors == [f"error 200 UNREADABLE_ANSWER: {unreadable}"] * 2

    # A list answered without its items lists none.
    await term.enter("pay list")
    await term.wait_for_text("(none)")
    assert not [line for line in await term.lines() if line.startswith("error")][2:]
    await page.context.close()
