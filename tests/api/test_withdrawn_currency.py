"""Rows stored in a currency that a later ISO 4217 table no longer lists (BGN, withdrawn when
Bulgaria joined the euro on 2026-01-01; the next amendment, whichever it is) stay readable
through the API: the account list (listed whole) and the pages of payments that hold one."""

from __future__ import annotations

from tests.api.world import World

BGN_IBAN = "BG80BNBG96611020345678"


async def test_a_ledger_account_in_a_withdrawn_currency_does_not_break_the_account_list(
    world: World,
) -> None:
    # What a gateway that ran before the table dropped BGN holds: its seed accepted it then.
    await world.pool.execute(
        "INSERT INTO accounts (account, name, currency, balance) VALUES ($1, $2, 'BGN', 100)",
        BGN_IBAN,
        "Sofia OOD",
    )
    response = await world.client.get("/api/v1/accounts", headers=world.auth("auditor"))
    assert response.status == 200, await response.text()
    listed = {a["account"]: a for a in (await response.json())["items"]}
    assert listed[BGN_IBAN]["currency"] == "BGN"


async def test_a_payment_in_a_withdrawn_currency_does_not_break_the_payment_list(
    world: World,
) -> None:
    await world.create_payment()  # an ordinary EUR payment on the same page
    await world.pool.execute(
        "INSERT INTO accounts (account, name, currency, balance) VALUES ($1, $2, 'BGN', 1000)",
        BGN_IBAN,
        "Sofia OOD",
    )
    await world.pool.execute(
        "INSERT INTO payments (amount, currency, value_date, debtor_name, debtor_account,"
        " creditor_name, creditor_account, creditor_agent_bic, created_by)"
        " VALUES (12.50, 'BGN', current_date, 'Sofia OOD', $1, 'Globex SA',"
        " 'FR1420041010050500013M02606', 'BNPAFRPPXXX', 'maker')",
        BGN_IBAN,
    )
    response = await world.client.get("/api/v1/payments", headers=world.auth("auditor"))
    assert response.status == 200, await response.text()
    currencies = sorted(p["currency"] for p in (await response.json())["items"])
    assert currencies == ["BGN", "EUR"]
