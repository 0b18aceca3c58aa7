"""Lists against a gateway the test plays (Playwright routes): which of `pay list`'s rows are
followed beside the operator's own payments, what `exceptions` shows by default, and the line
that says a list has more than its page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Route, expect

from paywire.api import create_app
from tests.api.world import seed
from tests.fixtures.browser import TIMEOUT_MS, TerminalPage, signed_in
from tests.fixtures.world import ACME, GLOBEX

T0 = "2026-11-27T10:00:00.000100Z"
T1 = "2026-11-27T10:00:01.000200Z"


def payment(n: int, status: str = "INITIATED", updated_at: str = T0) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "reference": reference(n),
        "status": status,
        "amount": f"{n + 1}.00",
        "currency": "EUR",
        "value_date": "2026-11-27",
        "debtor": {"name": "ACME GmbH", "account": ACME},
        "creditor": {"name": "Globex SA", "account": GLOBEX, "agent_bic": "BNPAFRPPXXX"},
        "created_by": "maker",
        "created_at": T0,
        "updated_at": updated_at,
        "history": [],
        "message": None,
    }


def reference(n: int) -> str:
    return f"PW-20261127-LIST{n:04d}"


class Payments:
    """The payments' URLs answered by the test: a list gives `listed` (newest first) with a
    next cursor if `more`, `pay show` a payment INITIATED, and every status poll the same one
    APPROVED (so each followed payment prints one update)."""

    def __init__(self, listed: list[int], more: bool = False) -> None:
        self.listed = listed
        self.more = more
        self.queries: list[dict[str, list[str]]] = []

    async def list(self, route: Route) -> None:
        self.queries.append(parse_qs(urlsplit(route.request.url).query))
        items = [payment(n) for n in self.listed]
        await route.fulfill(json={"items": items, "next_cursor": "c2" if self.more else None})

    async def one(self, route: Route) -> None:
        key = route.request.url.rsplit("/", 1)[1]
        if key.startswith("PW-"):
            await route.fulfill(json=payment(int(key[-4:])))
        else:
            await route.fulfill(json=payment(int(key[-12:]), "APPROVED", T1))

    async def playing(self, term: TerminalPage) -> None:
        await term.page.route("**/api/v1/payments?*", self.list)
        await term.page.route("**/api/v1/payments/*", self.one)


async def admin_terminal(browser, serve, settings, db_pool) -> TerminalPage:
    await seed(db_pool, ["admin"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "admin")
    return term


async def updated(term: TerminalPage) -> set[str]:
    return {line.split()[0] for line in await term.page.locator(".line.update").all_text_contents()}


async def test_pay_list_follows_its_newest_rows_and_keeps_the_operators_own(
    browser, serve, settings, db_pool
) -> None:
    term = await admin_terminal(browser, serve, settings, db_pool)
    gateway = Payments(listed=list(range(1, 51)))
    await gateway.playing(term)
    await term.enter(f"pay show {reference(100)}")
    await term.wait_for_text("INITIATED")
    await term.enter("pay list")
    await term.wait_for_text(reference(50))

    # 25 followed: the payment shown, and the 24 newest rows (the list is newest first).
    followed = {reference(100)} | {reference(n) for n in range(1, 25)}
    await expect(term.page.locator(".line.update")).to_have_count(25, timeout=TIMEOUT_MS)
    assert await updated(term) == followed
    assert not [line for line in await term.lines() if "no longer followed" in line]

    # Another list: the rows it pushes out are told in one line, the one shown stays.
    gateway.listed = list(range(200, 250))
    await term.enter("pay list")
    await term.wait_for_text(
        "24 payments listed earlier no longer followed (following 25 at most):"
        " pay show one to follow it again"
    )
    await expect(term.page.locator(".line.update")).to_have_count(49, timeout=TIMEOUT_MS)
    assert await updated(term) - followed == {reference(n) for n in range(200, 224)}
    await term.page.context.close()


async def test_a_payment_of_the_operators_own_dropped_is_told(
    browser, serve, settings, db_pool
) -> None:
    term = await admin_terminal(browser, serve, settings, db_pool)
    await Payments(listed=[]).playing(term)
    for n in range(26):
        await term.enter(f"pay show {reference(n)}")
        await term.wait_for_text(payment(n)["id"])
    await term.wait_for_text(
        f"{reference(0)} no longer followed (following 25 at most): pay show it to follow it again"
    )
    told = [line for line in await term.lines() if "no longer followed" in line]
    assert len(told) == 1
    await term.page.context.close()


async def test_pay_list_says_when_there_are_more_than_it_lists(
    browser, serve, settings, db_pool
) -> None:
    term = await admin_terminal(browser, serve, settings, db_pool)
    gateway = Payments(listed=list(range(50)), more=True)
    await gateway.playing(term)
    await term.enter("pay list")
    await term.wait_for_text(
        "more than 50 payments: the newest 50 are listed; more for the next 50,"
        " or narrow with a status: pay list STATUS (e.g. pay list HELD)"
    )
    assert gateway.queries == [{"limit": ["50"]}]
    await term.page.context.close()


def exception(n: int, state: str) -> dict[str, Any]:
    return {
        "id": n,
        "kind": "ACK_MISSING",
        "payment_id": payment(n)["id"],
        "msg_id": f"PWM20261127{n:04d}",
        "detail": f"no answer to {n} transmission(s)",
        "state": state,
        "opened_at": T0,
        "resolved_at": None,
        "resolved_by": None,
        "note": None,
    }


async def test_exceptions_lists_open_items_with_their_detail_and_says_when_there_are_more(
    browser, serve, settings, db_pool
) -> None:
    term = await admin_terminal(browser, serve, settings, db_pool)
    queries: list[dict[str, list[str]]] = []

    async def exceptions(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        queries.append(query)
        state = query.get("state", ["OPEN"])[0]
        # A full page, as the API gives one before a next cursor.
        items = [exception(n, state) for n in range(7, 57)]
        await route.fulfill(json={"items": items, "next_cursor": "c2"})

    await term.page.route("**/api/v1/exceptions*", exceptions)
    await term.enter("exceptions")
    await term.wait_for_text("no answer to 7 transmission(s)")
    lines = await term.lines()
    header = next(line for line in lines if line.startswith("ID"))
    assert header.split() == [
        "ID", "KIND", "STATE", "PAYMENT", "MSG", "ID", "OPENED", "DETAIL", "NOTE"
    ]  # fmt: skip
    await term.wait_for_text(
        "more than 50 exceptions: the newest 50 are listed; more for the next 50,"
        " or narrow with a kind: exceptions open KIND (e.g. exceptions open ACK_MISSING)"
    )

    more = term.output.locator(".line", has_text="more than 50")
    for count, line in enumerate(
        ("exceptions resolved", "exceptions all ack_missing", "exceptions ORPHAN_ACK"), 2
    ):
        await term.enter(line)
        await expect(more).to_have_count(count, timeout=TIMEOUT_MS)
    assert queries == [
        {"state": ["OPEN"], "limit": ["50"]},
        {"state": ["RESOLVED"], "limit": ["50"]},
        {"kind": ["ACK_MISSING"], "limit": ["50"]},
        {"state": ["OPEN"], "kind": ["ORPHAN_ACK"], "limit": ["50"]},
    ]

    await term.enter("exceptions open ACK_MISSING extra")
    await term.wait_for_text("usage: exceptions [open|resolved|all] [KIND]")
    await term.page.context.close()
