"""`more` against the real API and database: the pages of a list show each of its rows once, in
the API's order, with the list's filters and limit sent again beside the cursor; the rows of a
page are followed as the first page's are; a refused cursor is the gateway's error; and the
list is forgotten when another replaces it or the operator leaves."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.async_api import Route, expect

from paywire.api import create_app
from paywire.services import payments
from tests.fixtures.browser import TIMEOUT_MS, TerminalPage, open_terminal, signed_in
from tests.fixtures.bulk import add_rich_debtor, approve_many
from tests.fixtures.world import PASSWORD, World

NO_LIST = "no list to continue: more follows pay list, exceptions or audit"
NARROW = "narrow with a status: pay list STATUS (e.g. pay list HELD)"


async def terminal(browser, serve, settings, world: World, who: str = "admin") -> TerminalPage:
    client = await serve(create_app(settings, world.pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), who)
    return term


async def approved(world: World, count: int) -> None:
    await add_rich_debtor(world.pool)
    await approve_many(world, ["1.00"] * count)


async def newest_first(world: World, status: str | None = None) -> list[str]:
    """The payments' references in the API's order (`store.payments.page`)."""
    rows = await world.pool.fetch(
        "SELECT reference FROM payments WHERE $1::text IS NULL OR status = $1"
        " ORDER BY created_at DESC, id DESC",
        status,
    )
    return [row["reference"] for row in rows]


async def listed(term: TerminalPage) -> list[str]:
    """The references in the tables on screen, top to bottom."""
    lines = await term.page.locator("#output .line.out").all_text_contents()
    return [line.split()[0] for line in lines if line.startswith("PW-")]


async def test_more_shows_every_payment_once_in_the_apis_order(
    browser, serve, settings, world
) -> None:
    await approved(world, 120)
    expected = await newest_first(world)
    term = await terminal(browser, serve, settings, world)

    await term.enter("more")
    await term.wait_for_text(NO_LIST)

    await term.enter("pay list")
    await term.wait_for_text(
        f"more than 50 payments: the newest 50 are listed; more for the next 50, or {NARROW}"
    )
    assert await listed(term) == expected[:50]

    # A command in between keeps the list to continue.
    await term.enter(f"pay show {expected[0]}")
    await term.wait_for_text("end-to-end id")
    await term.enter("more")
    await term.wait_for_text(
        f"more than 100 payments: 51 to 100 are listed; more for the next 50, or {NARROW}"
    )
    await term.enter("more")
    await term.wait_for_text("120 payments listed in all: the end of the list")
    assert await listed(term) == expected

    await term.enter("more")
    await term.wait_for_text("nothing more: the last list has ended (120 payments listed)")

    # Another list replaces it, the whole of it on one page here.
    await term.enter("pay list")
    newest = term.output.locator(".line", has_text="the newest 50 are listed")
    await expect(newest).to_have_count(2, timeout=TIMEOUT_MS)
    await term.enter("exceptions")
    await term.wait_for_text("(none)")
    await term.enter("more")
    await term.wait_for_text("nothing more: the last list has ended (0 exceptions listed)")
    await term.page.context.close()


async def test_more_sends_the_lists_filter_and_limit_and_follows_the_rows_it_shows(
    browser, serve, settings, world
) -> None:
    # APPROVED payments older and newer than the INITIATED ones: a page without the filter
    # would show some of them.
    await add_rich_debtor(world.pool)
    await approve_many(world, ["1.00"] * 20)
    for _ in range(60):
        await world.create()
    await approve_many(world, ["1.00"] * 20)
    expected = await newest_first(world, "INITIATED")
    term = await terminal(browser, serve, settings, world)
    pages: list[tuple[dict[str, list[str]], dict[str, Any]]] = []

    async def recorded(route: Route) -> None:
        response = await route.fetch()
        pages.append((parse_qs(urlsplit(route.request.url).query), await response.json()))
        await route.fulfill(response=response)

    await term.page.route("**/api/v1/payments?*", recorded)
    # Narrowed already: the line does not say to narrow.
    told = "more than 50 payments: the newest 50 are listed; more for the next 50"
    await term.enter("pay list initiated")
    await term.wait_for_text(told)
    await term.enter("more")
    await term.wait_for_text("60 payments listed in all: the end of the list")

    assert await listed(term) == expected
    (first, body), (second, _) = pages
    assert first == {"status": ["INITIATED"], "limit": ["50"]}
    assert second == {**first, "cursor": [body["next_cursor"]]}
    assert [line for line in await term.lines() if line.startswith("more than")] == [told]

    # The newest row of the second page, followed as the first page's newest were.
    row = await world.pool.fetchval("SELECT id FROM payments WHERE reference = $1", expected[50])
    await payments.approve(world.pool, row, world.operators["checker"])
    await term.wait_for_text(f"{expected[50]}  INITIATED → APPROVED")
    await term.page.context.close()


async def test_a_cursor_the_gateway_refuses_is_its_error_and_the_list_stays(
    browser, serve, settings, world
) -> None:
    await approved(world, 60)
    expected = await newest_first(world)
    term = await terminal(browser, serve, settings, world)
    await term.enter("pay list")
    await term.wait_for_text("more than 50 payments")

    async def forged(route: Route) -> None:
        url = urlsplit(route.request.url)
        query = {**parse_qs(url.query), "cursor": ["bm90LWEtY3Vyc29y"]}  # "not-a-cursor"
        await route.continue_(url=url._replace(query=urlencode(query, doseq=True)).geturl())

    await term.page.route("**/api/v1/payments?*cursor=*", forged)
    await term.enter("more")
    await term.wait_for_text("error 400 VALIDATION: invalid cursor")
    await term.wait_for_text("cursor: is not a cursor we issued")

    await term.page.unroute("**/api/v1/payments?*cursor=*", forged)
    await term.enter("more")
    await term.wait_for_text("60 payments listed in all: the end of the list")
    assert await listed(term) == expected
    await term.page.context.close()


async def test_the_list_to_continue_leaves_with_the_operator(
    browser, serve, settings, world
) -> None:
    await approved(world, 60)
    term = await terminal(browser, serve, settings, world)
    hint = term.output.locator(".line", has_text="more for the next 50")

    await term.enter("pay list")
    await expect(hint).to_have_count(1, timeout=TIMEOUT_MS)
    await term.enter("logout")
    await term.wait_for_text("signed out")
    await term.login("admin", PASSWORD)
    await term.enter("more")
    await term.wait_for_text(NO_LIST)

    # Another operator signing in, without a logout before.
    await term.enter("pay list")
    await expect(hint).to_have_count(1, timeout=TIMEOUT_MS)
    await term.login("auditor", PASSWORD)
    await term.enter("more")
    await term.wait_for_text(NO_LIST)
    assert await listed(term) == []
    await term.page.context.close()


async def test_the_list_to_continue_ends_with_the_session_and_stays_for_the_same_operator(
    browser, serve, settings, world
) -> None:
    await approved(world, 60)
    client = await serve(create_app(settings, world.pool))
    term, _ = await open_terminal(browser, str(client.make_url("/")), clock=True)
    await term.login("admin", PASSWORD)
    hint = term.output.locator(".line", has_text="more for the next 50")

    await term.enter("pay list")
    await expect(hint).to_have_count(1, timeout=TIMEOUT_MS)
    # Signing in again as themselves keeps the screen, and the list with it.
    await term.login("admin", PASSWORD)
    await term.enter("more")
    await term.wait_for_text("60 payments listed in all: the end of the list")

    await term.enter("pay list")
    await expect(hint).to_have_count(2, timeout=TIMEOUT_MS)
    await term.page.clock.fast_forward((settings.token_ttl_s + 1) * 1000)
    await term.wait_for_text("the session has ended")
    await term.login("admin", PASSWORD)
    await term.enter("more")
    await term.wait_for_text(NO_LIST)
    await term.page.context.close()


async def test_audit_pages_by_the_number_asked_for(browser, serve, settings, world) -> None:
    await approved(world, 10)
    term = await terminal(browser, serve, settings, world, "auditor")
    await term.enter("audit 5")
    await term.wait_for_text(
        "more than 5 audit records: the newest 5 are listed; more for the next 5"
    )
    await term.enter("more")
    await term.wait_for_text("more than 10 audit records: 6 to 10 are listed; more for the next 5")

    lines = await term.page.locator("#output .line.out").all_text_contents()
    ids = [int(line.split()[0]) for line in lines if line.strip()[:1].isdigit()]
    newest = await world.pool.fetch(
        "SELECT id FROM audit_logs WHERE id <= $1 ORDER BY id DESC LIMIT 10", ids[0]
    )
    assert ids == [row["id"] for row in newest]
    await term.page.context.close()
