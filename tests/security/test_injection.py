"""Injection through every text field of a payment and of the actions on it. Control and
bidirectional characters are refused at entry; printable text, however hostile, is stored
verbatim, returned verbatim in JSON and escaped in the pacs.008 the pipeline builds. Account ids
take only the SWIFT character set, its quote and brackets included."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from lxml import etree

from paywire.services import payments
from tests.api.world import World
from tests.fixtures.world import COMPOSE, payment_body
from tests.wire.conftest import PACS008_NS, Schemas, assert_valid

# Printable and at most 34 characters.
HOSTILE = [
    "x'); DROP TABLE payments; --",
    "' OR '1'='1' /*",
    "<script>alert(1)</script>",
    "& < > \" ' ]]> &amp;",
    "<![CDATA[x]]><a href='#'>",
    '<!ENTITY e SYSTEM "file:///">&e;',
    "%s %n {0} ${jndi:ldap://x} $1",
    "Zoë Ærø 株式会社 😀 a\u0301 \u00a0nbsp",
    "back\\slash \\u0000 \\x00",
]
# What an account id may hold (the SWIFT set) put to hostile use.
HOSTILE_IDS = [
    "x') OR ('1' - '1' --",
    "' + (SELECT 1) + '",
    "../../etc/passwd?x:y",
    "a'b,c.d/e-f(g)h+i?j:k",
]
# Refused: C0/C1 controls, bidirectional overrides and isolates, zero-width and other format
# characters, line and paragraph separators, private use, characters that display as a blank.
REFUSED = [
    "ACME\u202egnp.exe",
    "ACME\u2066GmbH\u2069",
    "AC\u200bME",
    "ACME\ufeff",
    "ACME\u2028GmbH",
    "ACME\x1b[31m",
    "ACME\x85",
    "ACME\x07",
    "ACME\ue000",
    "ACME\U000e0041",
    "ACME\u3164",
    "ACME\u2800",
]
PACS = {"p": PACS008_NS}
FIELD_XPATHS = {
    "debtor.name": "//p:Dbtr/p:Nm",
    "creditor.name": "//p:Cdtr/p:Nm",
    "end_to_end_id": "//p:PmtId/p:EndToEndId",
    "remittance_info": "//p:RmtInf/p:Ustrd",
}
ACCOUNT_XPATH = "//p:CdtrAcct/p:Id/p:Othr/p:Id"
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def body_with(field: str, value: str) -> dict[str, Any]:
    """The creation body with `value` in `field` (a dotted name for party fields)."""
    body = payment_body()
    if "." in field:
        party, name = field.split(".")
        body[party] = {**body[party], name: value}
    else:
        body[field] = value
    return body


def read(payment: dict[str, Any], field: str) -> str:
    if "." in field:
        party, name = field.split(".")
        return str(payment[party][name])
    return str(payment[field])


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        *((FIELD_XPATHS, v) for v in HOSTILE),
        *(({"creditor.account": ACCOUNT_XPATH}, v) for v in HOSTILE_IDS),
    ],
)
async def test_hostile_printable_text_round_trips_and_is_escaped_in_the_message(
    world: World, schemas: Schemas, fields: dict[str, str], value: str
) -> None:
    for field, xpath in fields.items():
        response = await world.client.post(
            "/api/v1/payments", json=body_with(field, value), headers=world.auth("maker")
        )
        assert response.status == 201, (field, await response.text())
        assert response.content_type == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        created = await response.json()
        assert read(created, field) == value
        detail = await world.client.get(
            f"/api/v1/payments/{created['id']}", headers=world.auth("auditor")
        )
        assert read(await detail.json(), field) == value

        payment = (await payments.get_payment(world.pool, UUID(created["id"]))).payment
        payload = COMPOSE(payment).payload
        assert_valid(schemas.pacs008, payload)
        root = etree.fromstring(payload, SAFE_PARSER)
        assert root.xpath(f"string({xpath})", namespaces=PACS) == value, field
        assert b"<script>" not in payload
        assert b"<!ENTITY" not in payload
        assert b"]]>" not in payload.replace(b"]]&gt;", b"")


@pytest.mark.parametrize("value", HOSTILE_IDS)
async def test_a_hostile_ledger_account_id_round_trips(world: World, value: str) -> None:
    await world.pool.execute(
        "INSERT INTO accounts (account, name, currency, balance) VALUES ($1, $2, 'EUR', 100)",
        value,
        value,
    )
    body = body_with("debtor.account", value)
    response = await world.client.post("/api/v1/payments", json=body, headers=world.auth("maker"))
    assert response.status == 201, await response.text()
    assert (await response.json())["debtor"]["account"] == value
    accounts = await world.client.get("/api/v1/accounts", headers=world.auth("auditor"))
    assert value in [a["account"] for a in (await accounts.json())["items"]]


@pytest.mark.parametrize("value", REFUSED, ids=[f"U+{ord(v[-1]):04X}" for v in REFUSED])
async def test_control_and_bidi_characters_are_refused_in_every_field(
    world: World, value: str
) -> None:
    for field in (*FIELD_XPATHS, "creditor.account", "debtor.account"):
        response = await world.client.post(
            "/api/v1/payments", json=body_with(field, value), headers=world.auth("maker")
        )
        assert response.status == 400, (field, await response.text())
        details = (await response.json())["error"]["details"]
        assert field in [d["field"] for d in details], details
    assert await world.pool.fetchval("SELECT count(*) FROM payments") == 0


async def test_reasons_are_stored_verbatim_or_refused(world: World) -> None:
    for value in HOSTILE:
        created = await world.create_payment()
        response = await world.client.post(
            f"/api/v1/payments/{created['id']}/reject",
            json={"reason": value},
            headers=world.auth("checker"),
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["reason"]["text"] == value
    created = await world.create_payment()
    for value in REFUSED:
        response = await world.client.post(
            f"/api/v1/payments/{created['id']}/reject",
            json={"reason": value},
            headers=world.auth("checker"),
        )
        assert response.status == 400, value
    stored = await world.pool.fetch(
        "SELECT reason_text FROM payments WHERE reason_text IS NOT NULL"
    )
    assert sorted(row["reason_text"] for row in stored) == sorted(HOSTILE)
