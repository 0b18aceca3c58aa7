"""Live status updates against a gateway the test plays (Playwright routes): answers that
arrive out of order, polls that fail and come back, a sign-in in flight, an operator who
leaves while a poll is on its way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Browser, Locator, Page, Route, expect
from playwright.async_api import Error as PlaywrightError

from paywire.api import create_app
from paywire.config import Settings
from paywire.store.tx import Pool
from tests.api.world import seed
from tests.fixtures.app import Serve
from tests.fixtures.browser import TIMEOUT_MS, Held, TerminalPage, signed_in
from tests.fixtures.world import ACME, GLOBEX, PASSWORD

PAYMENT_ID = "8f0c7a4e-3b1d-4c2a-9e5f-6a7b8c9d0e1f"
REFERENCE = "PW-20261127-LIVE0001"
# updated_at as the API writes it: UTC, microseconds, fixed width.
T0 = "2026-11-27T10:00:00.000100Z"
T1 = "2026-11-27T10:00:01.000200Z"
T2 = "2026-11-27T10:00:02.000300Z"

Answer = Callable[[Route], Awaitable[None]]


def payment(status: str, updated_at: str) -> dict[str, Any]:
    return {
        "id": PAYMENT_ID,
        "reference": REFERENCE,
        "status": status,
        "amount": "10.00",
        "currency": "EUR",
        "value_date": "2026-11-27",
        "debtor": {"name": "ACME GmbH", "account": ACME},
        "creditor": {"name": "Globex SA", "account": GLOBEX, "agent_bic": "BNPAFRPPXXX"},
        "uetr": "2b7e1f3a-9c4d-4e5f-8a6b-7c8d9e0f1a2b",
        "created_by": "maker",
        "created_at": T0,
        "updated_at": updated_at,
        "history": [],
        "message": None,
    }


def status(name: str, updated_at: str) -> Answer:
    return lambda route: route.fulfill(json=payment(name, updated_at))


async def unavailable(route: Route) -> None:
    error = {"code": "UNAVAILABLE", "message": "database unavailable", "details": []}
    await route.fulfill(status=503, json={"error": error, "request_id": None})


class Gateway:
    """The payment's URLs answered by the test: `pay show` gives it INITIATED at T0, `approve`
    gives it APPROVED at T1, and each status poll takes the next answer put in `polls` (it
    waits for one)."""

    def __init__(self) -> None:
        self.polls: asyncio.Queue[Answer] = asyncio.Queue()
        self.arrived: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, route: Route) -> None:
        path = route.request.url.split("/api/v1/payments/", 1)[1]
        if path == f"{REFERENCE}/approve":
            await route.fulfill(json=payment("APPROVED", T1))
        elif path == REFERENCE:
            await route.fulfill(json=payment("INITIATED", T0))
        else:
            assert path == PAYMENT_ID
            self.arrived.put_nowait(None)
            answer = await self.polls.get()
            with contextlib.suppress(PlaywrightError):  # aborted by the page meanwhile
                await answer(route)

    async def showing(self, term: TerminalPage) -> None:
        """The payment on `term`'s screen, and so followed."""
        await term.page.route("**/api/v1/payments/**", self)
        await term.enter(f"pay show {REFERENCE}")
        await term.wait_for_text(PAYMENT_ID)

    async def poll_arrived(self) -> None:
        """Once the page has sent a status poll (the next one not waited for yet)."""
        await asyncio.wait_for(self.arrived.get(), TIMEOUT_MS / 1000)


async def following(
    browser: Browser, serve: Serve, settings: Settings, db_pool: Pool
) -> tuple[TerminalPage, Gateway]:
    """The maker signed in (a checker to sign in after), following the payment the test's
    gateway plays."""
    await seed(db_pool, ["maker", "checker"])
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "maker")
    gateway = Gateway()
    await gateway.showing(term)
    return term, gateway


def updates(page: Page) -> Locator:
    return page.locator("#output .line.update")


async def test_an_answer_overtaken_by_a_newer_one_is_ignored_and_pauses_are_told_once(
    browser, serve, settings, db_pool
) -> None:
    term, gateway = await following(browser, serve, settings, db_pool)

    # A poll is on its way when `approve` answers APPROVED; the poll's answer, INITIATED as
    # the payment was when it was read, comes after.
    await gateway.poll_arrived()
    await term.enter(f"approve {REFERENCE}")
    await term.wait_for_text(f"{REFERENCE} approved: APPROVED")
    await expect(updates(term.page).last).to_have_text(f"{REFERENCE}  INITIATED → APPROVED")
    for answer in (
        status("INITIATED", T0),
        unavailable,
        lambda route: route.abort("connectionrefused"),
        unavailable,
        status("APPROVED", T1),
        status("COMPLETED", T2),
    ):
        gateway.polls.put_nowait(answer)
    await expect(updates(term.page).last).to_have_text(
        f"{REFERENCE}  INITIATED → APPROVED → COMPLETED", timeout=TIMEOUT_MS
    )

    lines = await term.lines()
    assert not [line for line in lines if line.endswith("→ INITIATED")]
    told = [line for line in lines if line.startswith("live updates")]
    assert told == [
        "live updates paused: error 503 UNAVAILABLE: database unavailable",
        "live updates resumed",
    ]
    await term.page.context.close()


async def test_following_goes_on_through_a_sign_in_in_flight(
    browser, serve, settings, db_pool
) -> None:
    term, gateway = await following(browser, serve, settings, db_pool)
    gateway.polls.put_nowait(status("INITIATED", T0))
    await gateway.poll_arrived()

    # The same operator signs in again; the gateway is slow to grant it, for longer than a
    # poll's interval (1.5 s), and the page holds no token meanwhile.
    held = Held()
    await term.page.route("**/api/v1/auth/login", held)
    await term.enter("login maker")
    await term.answer("password:", PASSWORD)
    login = await held.next()
    await asyncio.sleep(2.5)
    await login.continue_()
    await term.wait_for_text("signed in as maker")

    gateway.polls.put_nowait(status("APPROVED", T1))
    await expect(updates(term.page).last).to_have_text(
        f"{REFERENCE}  INITIATED → APPROVED", timeout=TIMEOUT_MS
    )
    await term.page.context.close()


async def test_a_poll_on_its_way_when_the_operator_leaves_prints_nothing_for_the_next(
    browser, serve, settings, db_pool
) -> None:
    term, gateway = await following(browser, serve, settings, db_pool)
    await gateway.poll_arrived()

    await term.login("checker", PASSWORD)
    # The maker's poll is answered only now, with a change to print.
    gateway.polls.put_nowait(status("APPROVED", T1))
    await term.enter("whoami")
    await term.wait_for_text("checker")
    await term.enter("whoami")
    await expect(term.output.locator(".line", has_text="username")).to_have_count(2)
    assert not [line for line in await term.lines() if REFERENCE in line]
    assert gateway.polls.empty(), "the poll was answered"
    await term.page.context.close()
