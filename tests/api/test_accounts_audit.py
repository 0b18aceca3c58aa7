"""Ledger accounts and entries; the audit log's query and chain verification."""

from __future__ import annotations

import re

from paywire.domain.screening import ScreeningRules
from paywire.services import pipeline
from paywire.store.ledger import PostgresLedger
from paywire.store.tx import Pool
from tests.api.world import World
from tests.fixtures.breaks import tamper
from tests.fixtures.world import ACME, COMPOSE


async def test_accounts_with_decimal_string_balances(world: World) -> None:
    response = await world.client.get("/api/v1/accounts", headers=world.auth("maker"))
    assert response.status == 200
    body = await response.json()
    by_number = {a["account"]: a for a in body["items"]}
    assert by_number[ACME]["balance"] == "1000000.00"
    assert by_number["TANAKA-0001"]["balance"] == "5000000"
    assert body["next_cursor"] is None


async def test_entries_of_an_account(world: World) -> None:
    accounts = await (
        await world.client.get("/api/v1/accounts", headers=world.auth("maker"))
    ).json()
    account_id = next(a["id"] for a in accounts["items"] if a["account"] == ACME)
    response = await world.client.get(
        f"/api/v1/accounts/{account_id}/entries", headers=world.auth("maker")
    )
    assert response.status == 200
    assert await response.json() == {"items": [], "next_cursor": None}
    missing = await world.client.get(
        "/api/v1/accounts/00000000-0000-4000-8000-000000000000/entries", headers=world.auth("maker")
    )
    assert missing.status == 404
    assert (await world.client.get("/api/v1/accounts")).status == 401


async def test_entries_of_an_account_by_its_number(world: World) -> None:
    """SPEC §7's `{id}` takes the account's number too, as operators know it (an IBAN in its
    printed form as well); a number that reads as a UUID (32 hex digits are a valid other id)
    is still found by number."""
    approved = await world.approved_payment()
    await pipeline.screen_and_post(
        world.pool, [approved], ScreeningRules(), PostgresLedger(), COMPOSE
    )
    accounts = await (
        await world.client.get("/api/v1/accounts", headers=world.auth("maker"))
    ).json()
    account_id = next(a["id"] for a in accounts["items"] if a["account"] == ACME)
    pages = []
    printed = " ".join(ACME[i : i + 4] for i in range(0, len(ACME), 4)).lower()
    for key in (account_id, ACME, printed.replace(" ", "%20")):
        response = await world.client.get(
            f"/api/v1/accounts/{key}/entries", headers=world.auth("maker")
        )
        assert response.status == 200, key
        pages.append(await response.json())
    assert pages[0] == pages[1] == pages[2]
    assert [e["payment_id"] for e in pages[0]["items"]] == [str(approved)]

    hex_id = "0123456789abcdef0123456789abcdef"
    await world.pool.execute(
        "INSERT INTO accounts (account, name, currency) VALUES ($1, 'Hex Ltd', 'EUR')", hex_id
    )
    by_hex = await world.client.get(
        f"/api/v1/accounts/{hex_id}/entries", headers=world.auth("maker")
    )
    assert by_hex.status == 200

    missing = await world.client.get(
        "/api/v1/accounts/DE02120300000000202051/entries", headers=world.auth("maker")
    )
    assert missing.status == 404
    assert (await missing.json())["error"]["message"] == (
        "no account DE02120300000000202051: give its id or its number (`account`) as"
        " GET /api/v1/accounts lists them"
    )


async def test_audit_log_query_pages_and_filters(world: World, owner_pool: Pool) -> None:
    created = [await world.create_payment() for _ in range(3)]
    auditor = world.auth("auditor")
    response = await world.client.get(
        "/api/v1/audit-logs", params={"entity": "payment", "limit": "2"}, headers=auditor
    )
    assert response.status == 200
    first = await response.json()
    assert len(first["items"]) == 2
    rest = await (
        await world.client.get(
            "/api/v1/audit-logs",
            params={"entity": "payment", "limit": "2", "cursor": first["next_cursor"]},
            headers=auditor,
        )
    ).json()
    ids = [row["entity_id"] for row in first["items"] + rest["items"]]
    assert ids == [p["id"] for p in reversed(created)]
    assert rest["next_cursor"] is None
    row = first["items"][0]
    assert row["action"] == "payment.create"
    assert row["operator"] == "maker"
    assert len(row["hash"]) == 64
    # As the chain hashes it and the export writes it, even when the microseconds are zero.
    await tamper(
        owner_pool,
        "UPDATE audit_logs SET timestamp = date_trunc('second', timestamp) WHERE id = $1",
        row["id"],
    )
    again = await world.client.get(
        "/api/v1/audit-logs", params={"entity": "payment", "limit": "1"}, headers=auditor
    )
    stamp = (await again.json())["items"][0]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z", stamp), stamp


async def test_a_row_no_reader_can_decode_is_listed_as_stored(
    world: World, owner_pool: Pool
) -> None:
    """jsonb keeps a number past every float (1e400, written behind the triggers); decoded on
    the way out, it made its page a 500, just when an auditor was looking for it."""
    created = await world.create_payment()
    listing = {"entity_id": created["id"]}
    auditor = world.auth("auditor")
    stored = await (
        await world.client.get("/api/v1/audit-logs", params=listing, headers=auditor)
    ).json()
    (row,) = stored["items"]
    await tamper(
        owner_pool, "UPDATE audit_logs SET after = '{\"amount\": 1e400}' WHERE id = $1", row["id"]
    )
    response = await world.client.get("/api/v1/audit-logs", params=listing, headers=auditor)
    assert response.status == 200, await response.text()
    (shown,) = (await response.json())["items"]
    assert shown["after"] == {"amount": 10**400}
    assert shown["before"] is None
    assert {k: v for k, v in shown.items() if k != "after"} == {
        k: v for k, v in row.items() if k != "after"
    }
    assert row["after"]["id"] == created["id"], "the row as it was, before and after as JSON"


async def test_audit_verify_and_roles(world: World) -> None:
    await world.create_payment()
    for who in ("auditor", "admin"):
        response = await world.client.get("/api/v1/audit-logs/verify", headers=world.auth(who))
        assert response.status == 200
        body = await response.json()
        assert body["ok"] is True
        assert body["rows"] >= 1
        assert body["first_bad_id"] is None
    denied = await world.client.get("/api/v1/audit-logs", headers=world.auth("maker"))
    assert denied.status == 403
