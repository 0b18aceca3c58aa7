"""Payments through the API: entry with idempotency, validation, listing with cursors, detail,
and the actions with their role, four-eyes and state rules."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from paywire.domain.screening import ScreeningRules
from paywire.services import pipeline
from paywire.store.ledger import PostgresLedger
from tests.api.world import World, raw_request
from tests.fixtures.world import COMPOSE, add_account, payment_body

PAYMENTS = "/api/v1/payments"
AMOUNT_TO_SEND = 'a decimal string of at most 18 digits, such as "1250.00"'


async def post(world: World, path: str, who: str, body: Any = None):
    return await world.client.post(
        path, json=body if body is not None else {}, headers=world.auth(who)
    )


async def test_create_returns_201_with_the_representation(world: World) -> None:
    created = await world.create_payment()
    assert created["status"] == "INITIATED"
    assert created["amount"] == "1250.00"
    assert created["reference"].startswith("PW-")
    assert created["created_by"] == "maker"
    assert created["approved_by"] is None
    assert created["reason"] is None
    assert created["debtor"] == {"name": "ACME GmbH", "account": "DE89370400440532013000"}
    for field in ("id", "uetr", "msg_id", "value_date", "created_at", "updated_at"):
        assert created[field]


async def test_same_idempotency_key_and_body_replays_the_payment(world: World) -> None:
    headers = {**world.auth("maker"), "Idempotency-Key": "inv-42"}
    first = await world.client.post(PAYMENTS, json=payment_body(), headers=headers)
    again = await world.client.post(PAYMENTS, json=payment_body(), headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    clash = await world.client.post(PAYMENTS, json=payment_body(amount="99.00"), headers=headers)
    assert clash.status == 409
    assert (await clash.json())["error"]["code"] == "CONFLICT"
    listed = await (await world.client.get(PAYMENTS, headers=world.auth("maker"))).json()
    assert len(listed["items"]) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 1250.0}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"debtor": {"name": "ACME GmbH"}}, "debtor.account"),
        (
            {
                "creditor": {
                    "name": "G",
                    "account": "FR1420041010050500013M02607",
                    "agent_bic": "BNPAFRPPXXX",
                }
            },
            "creditor.account",
        ),
        (
            {
                "creditor": {
                    "name": "G",
                    "account": "FR1420041010050500013M02606",
                    "agent_bic": "BNPA",
                }
            },
            "creditor.agent_bic",
        ),
        ({"debtor": {"name": "ACME GmbH", "account": "DE02120300000000202051"}}, "debtor.account"),
        ({"remittance_info": "bell\u0007"}, "remittance_info"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_entry_is_400_naming_the_field(world: World, change, field) -> None:
    response = await post(world, PAYMENTS, "maker", payment_body(**change))
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["error"]["code"] == "VALIDATION"
    assert field in [d["field"] for d in body["error"]["details"]]


async def test_entry_is_checked_in_passes_each_reporting_all_it_finds(world: World) -> None:
    """docs/API.md, Errors: the shape and field checks of the schema first, then the values' own
    rules (an IBAN's check digits), then what needs the ledger; a JSON number for an amount, or
    one written with a decimal comma, is told what to send instead."""
    debtor = {"name": "ACME GmbH", "account": "DE02120300000000202051"}  # no ledger account
    creditor = {"name": "G", "account": "FR1420041010050500013M02607", "agent_bic": "BNPAFRPPXXX"}
    passes = [
        (
            {"amount": 1250, "currency": "eur", "debtor": debtor, "creditor": creditor},
            [
                {"field": "amount", "message": f"must be {AMOUNT_TO_SEND}"},
                {"field": "currency", "message": "must match the pattern ^[A-Z]{3}$"},
            ],
        ),
        (
            {"amount": "1250,00", "debtor": debtor, "creditor": creditor},
            [{"field": "amount", "message": f"must be {AMOUNT_TO_SEND}"}],
        ),
        ({"debtor": debtor, "creditor": creditor}, ["creditor.account"]),
        ({"debtor": debtor}, [{"field": "debtor.account", "message": "is not a ledger account"}]),
    ]
    for change, expected in passes:
        response = await post(world, PAYMENTS, "maker", payment_body(**change))
        assert response.status == 400
        details = (await response.json())["error"]["details"]
        if isinstance(expected[0], str):
            details = [d["field"] for d in details]
        assert details == expected


async def test_body_that_is_not_json_is_400(world: World) -> None:
    response = await world.client.post(
        PAYMENTS,
        data=b"{not json",
        headers={**world.auth("maker"), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["details"][0]["field"] == "body"


async def test_only_makers_create(world: World) -> None:
    response = await post(world, PAYMENTS, "checker", payment_body())
    assert response.status == 403
    assert (await response.json())["error"]["details"] == [{"required_roles": ["MAKER"]}]


async def test_list_pages_with_an_opaque_cursor(world: World) -> None:
    made = [(await world.create_payment(amount=f"{n}.00"))["id"] for n in range(1, 6)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await world.client.get(PAYMENTS, params=query, headers=world.auth("auditor"))
        assert response.status == 200
        body = await response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))


@pytest.mark.parametrize(
    "position",
    [
        "0001-01-01T00:00:00+14:00|4c1e3b0e-0d6a-4f4e-9a51-6f1d5d0c2a10",
        "9999-12-31T23:59:59-14:00|4c1e3b0e-0d6a-4f4e-9a51-6f1d5d0c2a10",
        "2026-11-26T10:00:00|4c1e3b0e-0d6a-4f4e-9a51-6f1d5d0c2a10",
        "2026-11-26T10:00:00+00:00|not-a-uuid",
        "2026-11-26T10:00:00+00:00",
    ],
)
async def test_a_cursor_we_did_not_issue_is_400(world: World, position: str) -> None:
    cursor = base64.urlsafe_b64encode(position.encode()).rstrip(b"=").decode()
    response = await world.client.get(
        PAYMENTS, params={"cursor": cursor}, headers=world.auth("auditor")
    )
    assert response.status == 400, await response.text()
    details = (await response.json())["error"]["details"]
    assert details == [{"field": "cursor", "message": "is not a cursor we issued"}]


async def test_list_filters_by_status_and_day(world: World) -> None:
    made = [await world.create_payment() for _ in range(2)]
    first = made[0]
    await post(world, f"{PAYMENTS}/{first['id']}/cancel", "maker")
    cancelled = await world.client.get(
        PAYMENTS, params={"status": "CANCELLED"}, headers=world.auth("maker")
    )
    assert [p["id"] for p in (await cancelled.json())["items"]] == [first["id"]]
    # Each day (UTC) as stored: one, unless the two were made across midnight.
    days = {p["id"]: p["created_at"][:10] for p in made}
    for day in set(days.values()):
        same_day = await world.client.get(
            PAYMENTS, params={"from": day, "to": day}, headers=world.auth("maker")
        )
        items = (await same_day.json())["items"]
        assert sorted(p["id"] for p in items) == sorted(i for i, d in days.items() if d == day)
    later = await world.client.get(
        PAYMENTS, params={"from": "2999-01-01"}, headers=world.auth("maker")
    )
    assert (await later.json())["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "501"},
        {"limit": "0"},
        {"limit": "ten"},
        {"status": "LOST"},
        {"from": "2026-13-01"},
        {"cursor": "!!"},
        {"cursor": "bm90IGEgY3Vyc29y"},
    ],
)
async def test_bad_list_query_is_400(world: World, query) -> None:
    response = await world.client.get(PAYMENTS, params=query, headers=world.auth("maker"))
    assert response.status == 400
    assert (await response.json())["error"]["details"]


@pytest.mark.parametrize(("path", "who"), [(PAYMENTS, "maker"), ("/api/v1/audit-logs", "auditor")])
async def test_a_day_range_that_ends_before_it_starts_is_400_naming_both_days(
    world: World, path: str, who: str
) -> None:
    """It would match nothing: an empty list read as 'no payments in November'."""
    response = await world.client.get(
        path, params={"from": "2026-11-30", "to": "2026-11-01"}, headers=world.auth(who)
    )
    assert response.status == 400
    assert (await response.json())["error"] == {
        "code": "VALIDATION",
        "message": "invalid query",
        "details": [
            {"field": "from", "message": "must not be after to (2026-11-01)"},
            {"field": "to", "message": "must not be before from (2026-11-30)"},
        ],
    }
    one_day = {"from": "2026-11-30", "to": "2026-11-30"}
    assert (await world.client.get(path, params=one_day, headers=world.auth(who))).status == 200


async def test_detail_by_id_or_reference_has_history_and_message(world: World) -> None:
    created = await world.create_payment()
    by_id = await (
        await world.client.get(f"{PAYMENTS}/{created['id']}", headers=world.auth("auditor"))
    ).json()
    by_ref = await (
        await world.client.get(f"{PAYMENTS}/{created['reference']}", headers=world.auth("auditor"))
    ).json()
    assert by_id == by_ref
    assert [h["status"] for h in by_id["history"]] == ["INITIATED"]
    assert by_id["history"][0]["by"] == "maker"
    assert by_id["message"] is None


@pytest.mark.parametrize(
    "key", ["00000000-0000-4000-8000-000000000000", "PW-20260101-00000000", "x"]
)
async def test_unknown_payment_is_404(world: World, key: str) -> None:
    response = await world.client.get(f"{PAYMENTS}/{key}", headers=world.auth("maker"))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "NOT_FOUND"
    action = await post(world, f"{PAYMENTS}/{key}/approve", "checker")
    assert action.status == 404


async def test_a_request_s_log_line_names_its_payment_however_the_path_named_it(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """SPEC §10a: the payment id where relevant. The route template is all a line said, so a
    payment's requests could not be found in the log by its id."""
    with caplog.at_level(logging.INFO, logger="paywire.api"):
        created = await world.create_payment()
        await post(world, f"{PAYMENTS}/{created['reference']}/approve", "checker")
        await world.client.get(PAYMENTS, headers=world.auth("auditor"))
        await world.client.get(f"{PAYMENTS}/PW-20260101-NOSUCHID", headers=world.auth("auditor"))
    lines = {
        record.getMessage(): getattr(record, "payment_id", None)
        for record in caplog.records
        if record.name == "paywire.api"
    }
    assert lines == {
        "POST /api/v1/payments 201": UUID(created["id"]),
        "POST /api/v1/payments/{id}/approve 200": UUID(created["id"]),
        "GET /api/v1/payments 200": None,
        "GET /api/v1/payments/{id} 404": None,
    }


async def test_checker_approves_and_history_grows(world: World) -> None:
    created = await world.create_payment()
    response = await post(world, f"{PAYMENTS}/{created['reference']}/approve", "checker")
    assert response.status == 200
    approved = await response.json()
    assert approved["status"] == "APPROVED"
    assert approved["approved_by"] == "checker"
    detail = await (
        await world.client.get(f"{PAYMENTS}/{created['id']}", headers=world.auth("maker"))
    ).json()
    assert [(h["status"], h["by"]) for h in detail["history"]] == [
        ("INITIATED", "maker"),
        ("APPROVED", "checker"),
    ]
    again = await post(world, f"{PAYMENTS}/{created['id']}/approve", "checker")
    assert again.status == 409


async def test_a_maker_cannot_approve(world: World) -> None:
    created = await world.create_payment()
    response = await post(world, f"{PAYMENTS}/{created['id']}/approve", "maker2")
    assert response.status == 403


async def test_four_eyes_binds_even_an_admin_checker_on_their_own_payment(world: World) -> None:
    created = await world.create_payment("boss")
    response = await post(world, f"{PAYMENTS}/{created['id']}/approve", "boss")
    assert response.status == 403
    assert "four eyes" in (await response.json())["error"]["message"]


async def test_four_eyes_holds_across_two_tokens_of_one_operator(world: World) -> None:
    created = await world.create_payment("boss")
    second = await world.login("boss")
    response = await world.client.post(
        f"{PAYMENTS}/{created['id']}/approve",
        json={},
        headers={"Authorization": f"Bearer {second}"},
    )
    assert response.status == 403
    detail = await (
        await world.client.get(f"{PAYMENTS}/{created['id']}", headers=world.auth("maker"))
    ).json()
    assert detail["status"] == "INITIATED"


async def test_reject_needs_a_reason_and_records_it(world: World) -> None:
    created = await world.create_payment()
    path = f"{PAYMENTS}/{created['id']}/reject"
    missing = await post(world, path, "checker", {})
    assert missing.status == 400
    assert {"field": "reason", "message": "is required"} in (await missing.json())["error"][
        "details"
    ]
    response = await post(world, path, "checker", {"reason": "duplicate"})
    assert response.status == 200
    rejected = await response.json()
    assert rejected["status"] == "REJECTED"
    assert rejected["reason"]["text"] == "duplicate"


async def test_cancel_by_own_maker_or_admin_only(world: World) -> None:
    created = await world.create_payment()
    path = f"{PAYMENTS}/{created['id']}/cancel"
    assert (await post(world, path, "maker2")).status == 403
    assert (await post(world, path, "checker")).status == 403
    assert (await post(world, path, "maker")).status == 200
    assert (await post(world, path, "maker")).status == 409
    other = await world.create_payment()
    response = await post(world, f"{PAYMENTS}/{other['id']}/cancel", "admin")
    assert response.status == 200
    assert (await response.json())["status"] == "CANCELLED"


async def test_compliance_decides_only_on_held_payments(world: World) -> None:
    created = await world.create_payment()
    path = f"{PAYMENTS}/{created['id']}/compliance"
    bad = await post(world, path, "compliance", {"decision": "maybe", "reason": "x"})
    assert bad.status == 400
    assert (
        await post(world, path, "checker", {"decision": "release", "reason": "ok"})
    ).status == 403
    wrong_state = await post(world, path, "compliance", {"decision": "release", "reason": "ok"})
    assert wrong_state.status == 409


async def reach(world: World, status: str) -> str:
    """A payment of `maker`, approved by `checker`, in `status` (HELD: screening holds every
    EUR amount; SCREENED: then released by `compliance`), reached the way the gateway gets there."""
    created = await world.create_payment()
    if status == "INITIATED":
        return str(created["id"])
    path = f"{PAYMENTS}/{created['id']}"
    assert (await post(world, f"{path}/approve", "checker")).status == 200
    if status in ("HELD", "SCREENED"):
        hold_all = ScreeningRules(limits={"EUR": Decimal(0)})
        ids = [UUID(created["id"])]
        await pipeline.screen_and_post(world.pool, ids, hold_all, PostgresLedger(), COMPOSE)
    if status == "SCREENED":
        release = {"decision": "release", "reason": "cleared"}
        assert (await post(world, f"{path}/compliance", "compliance", release)).status == 200
    detail = await world.client.get(path, headers=world.auth("auditor"))
    assert (await detail.json())["status"] == status
    return str(created["id"])


STATUSES = ("INITIATED", "APPROVED", "HELD", "SCREENED")
# Each action, its body, and the one status it applies to.
ACTIONS = {
    "approve": ("approve", None, "INITIATED"),
    "reject": ("reject", {"reason": "duplicate"}, "INITIATED"),
    "cancel": ("cancel", None, "INITIATED"),
    "release": ("compliance", {"decision": "release", "reason": "cleared"}, "HELD"),
    "compliance-reject": ("compliance", {"decision": "reject", "reason": "no rationale"}, "HELD"),
}


@pytest.mark.parametrize("action", ACTIONS)
async def test_each_action_applies_to_its_own_status_only(world: World, action: str) -> None:
    """`everything` holds every role and neither entered nor approved the payments, so only the
    status can stop it. Before, an endpoint took whatever step led from the payment's status to
    its target: /compliance rejected an INITIATED payment as COMPLIANCE_REJECTED, /reject a HELD
    one as CHECKER_REJECTED, and a release of an APPROVED payment was a 403."""
    path, body, applies_to = ACTIONS[action]
    answers: dict[str, int] = {}
    refusals: dict[str, dict[str, Any]] = {}
    for status in STATUSES:
        payment = await reach(world, status)
        response = await post(world, f"{PAYMENTS}/{payment}/{path}", "everything", body)
        answers[status] = response.status
        if response.status != 200:
            refusals[status] = (await response.json())["error"]
            detail = await world.client.get(f"{PAYMENTS}/{payment}", headers=world.auth("auditor"))
            assert (await detail.json())["status"] == status, "a refused action changed nothing"
    assert answers == {status: 200 if status == applies_to else 409 for status in STATUSES}
    for status, error in refusals.items():
        assert error["code"] == "CONFLICT"
        assert error["message"].startswith(f"the payment is {status};"), error
        assert f"{applies_to} payments only" in error["message"], error


async def test_idempotency_key_is_validated_against_its_declaration(world: World) -> None:
    headers = {**world.auth("maker"), "Idempotency-Key": "k" * 256}
    response = await world.client.post(PAYMENTS, json=payment_body(), headers=headers)
    assert response.status == 400
    details = (await response.json())["error"]["details"]
    assert details == [
        {"field": "Idempotency-Key", "message": "must be at most 255 characters long"}
    ]


async def test_an_idempotency_key_that_is_not_utf_8_is_400_naming_the_header(
    world: World,
) -> None:
    """Header bytes that are not UTF-8 reach the app as surrogate escapes, which the database
    could not store: refused as text before the key is looked up."""
    headers = {
        b"Authorization": world.auth("maker")["Authorization"].encode(),
        b"Idempotency-Key": b"key-\xff\xfe",
    }
    reply = await raw_request(world, "POST", PAYMENTS, headers, payment_body())
    assert reply.status == 400, reply.body
    assert reply.body["error"]["details"] == [
        {"field": "Idempotency-Key", "message": "must be printable text; U+DCFF is not"}
    ]
    assert await world.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_the_largest_amount_iso_20022_allows_is_taken_and_a_bad_currency_says_why(
    world: World,
) -> None:
    """18 digits, 16 before the point in EUR: what the message format carries, so the API
    takes it (it once stopped at 15). A refused shape names the pattern it must match."""
    headers = world.auth("maker")
    largest = payment_body(amount="9999999999999999.99")
    created = await world.client.post(PAYMENTS, json=largest, headers=headers)
    assert created.status == 201, await created.text()
    assert (await created.json())["amount"] == "9999999999999999.99"
    refused = await world.client.post(PAYMENTS, json=payment_body(currency="eur"), headers=headers)
    assert (await refused.json())["error"]["details"] == [
        {"field": "currency", "message": "must match the pattern ^[A-Z]{3}$"}
    ]


async def test_a_currency_of_four_minor_digits_and_a_printed_iban_are_taken(world: World) -> None:
    """SPEC §5: an amount with at most its currency's minor digits (the Chilean UF has four),
    and any valid IBAN: a Maltese one, 31 characters, is 39 as printed in groups of four."""
    await add_account(world.pool, "ANDES-0001", "CLF", "100")
    body = payment_body(
        amount="1.2345",
        currency="CLF",
        debtor={"name": "Andes SpA", "account": "ANDES-0001"},
        creditor={
            "name": "Valletta Ltd",
            "account": "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
            "agent_bic": "MALTMTMTXXX",
        },
    )
    response = await post(world, PAYMENTS, "maker", body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["amount"], created["currency"]) == ("1.2345", "CLF")
    assert created["creditor"]["account"] == "MT84MALT011000012345MTLCAST001S"
    five = await post(world, PAYMENTS, "maker", {**body, "amount": "1.23456"})
    assert five.status == 400
