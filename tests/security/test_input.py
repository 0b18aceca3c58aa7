"""Hostile request input: oversized and malformed bodies, odd numbers and encodings, NUL
characters anywhere. Each is refused with a 4xx naming the problem; none reaches a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from paywire.api.app import endpoints
from paywire.services.auth import LOCKOUT_ATTEMPTS
from tests.api.world import World
from tests.fixtures.world import PASSWORD, payment_body

PAYMENTS = "/api/v1/payments"
LOGIN = "/api/v1/auth/login"
LIMIT = 64 * 1024
SOME_ID = "00000000-0000-4000-8000-000000000000"
WITH_BODY = sorted(
    (e.method, e.path.replace("{id}", SOME_ID)) for e in endpoints() if e.body is not None
)


async def refused(response: Any, status: int = 400) -> list[dict[str, Any]]:
    """The error's details, after checking the status and that they are not empty."""
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["request_id"] == response.headers["X-Request-Id"]
    details: list[dict[str, Any]] = body["error"]["details"]
    if status == 400:
        assert details, body
    return details


def json_headers(world: World, who: str = "maker") -> dict[str, str]:
    return {**world.auth(who), "Content-Type": "application/json"}


@pytest.mark.parametrize("path", [LOGIN, PAYMENTS])
async def test_a_body_over_64_kib_is_413_announced_or_streamed(world: World, path: str) -> None:
    big = b'{"pad": "' + b"x" * LIMIT + b'"}'
    announced = await world.client.post(path, data=big, headers=json_headers(world))
    assert (await announced.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"
    await refused(announced, 413)

    async def chunks():  # no Content-Length: the limit applies while reading
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    streamed = await world.client.post(path, data=chunks(), headers=json_headers(world))
    await refused(streamed, 413)


async def test_the_limit_is_64_kib_exactly(world: World) -> None:
    filler = b" " * (LIMIT - 2)
    at_limit = await world.client.post(
        LOGIN, data=b"{" + filler + b"}", headers={"Content-Type": "application/json"}
    )
    await refused(at_limit, 400)  # read and validated: the fields are missing
    over = await world.client.post(
        LOGIN, data=b"{" + filler + b" }", headers={"Content-Type": "application/json"}
    )
    await refused(over, 413)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="invalid"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xef\xbb\xbf{}", id="byte-order-mark"),
        pytest.param(b'{"amount": "\xc0\xaf"}', id="overlong-utf8"),
        pytest.param(b'{"remittance_info": "\\ud800"}', id="lone-surrogate"),
        pytest.param(b'{"amount": 1e400}', id="infinite-number"),
        pytest.param(b'{"amount": NaN}', id="nan"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="nested-arrays"),
        pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, id="nested-objects"),
        # Within what the JSON parser takes, but deep enough to exhaust a recursive walk.
        pytest.param(b'{"remittance_info":' + b"[" * 600 + b"]" * 600 + b"}", id="nested-600"),
        pytest.param(b'{"a":' * 1_000 + b"1" + b"}" * 1_000, id="nested-1000"),
    ],
)
async def test_bodies_that_are_not_json_are_400_naming_the_body(world: World, raw: bytes) -> None:
    response = await world.client.post(PAYMENTS, data=raw, headers=json_headers(world))
    details = await refused(response)
    assert details[0]["field"] == "body"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"amount": 1250}, "amount", id="integer-amount"),
        pytest.param({"amount": 1250.5}, "amount", id="float-amount"),
        pytest.param({"amount": 10**30}, "amount", id="huge-integer-amount"),
        pytest.param({"amount": "9" * 400}, "amount", id="huge-string-amount"),
        pytest.param({"amount": "1e3"}, "amount", id="exponent-amount"),
        pytest.param({"amount": "-5.00"}, "amount", id="negative-amount"),
        pytest.param({"amount": "0.00"}, "amount", id="zero-amount"),
        pytest.param({"amount": "\uff11\uff12\uff15\uff10"}, "amount", id="fullwidth-digits"),
        pytest.param({"amount": "\u0661\u0662\u0665\u0660"}, "amount", id="arabic-indic-digits"),
        pytest.param({"amount": ["1250.00"]}, "amount", id="list-amount"),
        pytest.param({"currency": None}, "currency", id="null-currency"),
        pytest.param({"debtor": "ACME"}, "debtor", id="string-party"),
        pytest.param({"debtor": {"name": {"$ne": ""}, "account": "x"}}, "debtor.name", id="object"),
        pytest.param({"value_date": 20261127}, "value_date", id="number-date"),
        pytest.param({"end_to_end_id": True}, "end_to_end_id", id="boolean-text"),
        pytest.param({"remittance_info": "a\u0000b"}, "remittance_info", id="nul-byte"),
        pytest.param({"remittance_info": "x" * 141}, "remittance_info", id="too-long"),
    ],
)
async def test_wrong_types_and_values_are_400_naming_the_field(
    world: World, change: dict[str, Any], field: str
) -> None:
    response = await world.client.post(
        PAYMENTS, json=payment_body(**change), headers=world.auth("maker")
    )
    assert field in [d["field"] for d in await refused(response)]


@pytest.mark.parametrize(
    "account",
    [
        pytest.param("DE\uff189370400440532013001", id="fullwidth-digit"),
        pytest.param("\uff24\uff2589370400440532013001", id="fullwidth-country"),
        pytest.param("D\u041589370400440532013001", id="cyrillic-letter"),
        pytest.param("\uff26\uff32\uff11\uff14\uff12\uff10\uff10\uff14", id="all-fullwidth"),
    ],
)
async def test_iban_look_alikes_are_400_not_other_ids(world: World, account: str) -> None:
    """docs/API.md: what starts like an IBAN must be a valid one; these were taken as other ids."""
    creditor = {"name": "Globex SA", "account": account, "agent_bic": "BNPAFRPPXXX"}
    response = await world.client.post(
        PAYMENTS, json=payment_body(creditor=creditor), headers=world.auth("maker")
    )
    (detail,) = await refused(response)
    assert detail["field"] == "creditor.account"
    assert detail["message"].startswith("must hold only the letters A-Z and a-z, digits, spaces")
    assert account[:4] not in json.dumps(await response.json(), ensure_ascii=False)
    assert await world.pool.fetchval("SELECT count(*) FROM payments") == 0


async def test_a_nul_anywhere_in_a_body_is_400_not_a_database_error(world: World) -> None:
    """PostgreSQL cannot store U+0000 in text: it must be refused before any query runs."""
    created = await world.create_payment()
    nul = "dup\u0000licate"
    cases = [
        ("/api/v1/payments/{id}/reject", "checker", {"reason": nul}, "reason"),
        ("/api/v1/operators", "admin", {"username": "x", "password": nul * 3, "roles": ["MAKER"]}),
        (LOGIN, "maker", {"username": nul, "password": "whatever password"}, "username"),
    ]
    for path, who, body, *field in cases:
        url = path.format(id=created["id"])
        response = await world.client.post(url, json=body, headers=world.auth(who))
        details = await refused(response)
        expected = field[0] if field else "password"
        assert {"field": expected, "message": "must not contain the NUL character"} in details


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payments/%00",
        "/api/v1/payments/PW-20261127-%00",
        "/api/v1/payments/PW-%00/approve",
        "/api/v1/operators/%00",
        "/api/v1/accounts/%00/entries",
    ],
)
async def test_a_nul_in_a_path_names_nothing(world: World, path: str) -> None:
    method = "PATCH" if path.startswith("/api/v1/operators") else "GET"
    method = "POST" if path.endswith("/approve") else method
    response = await world.client.request(
        method, path, json={"active": True}, headers=world.auth("everything")
    )
    assert (await response.json())["error"]["code"] == "NOT_FOUND"
    await refused(response, 404)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/audit-logs", {"operator": "ad\u0000min"}, "operator"),
        ("/api/v1/audit-logs", {"entity_id": "\u0000"}, "entity_id"),
        ("/api/v1/audit-logs", {"cursor": base64.urlsafe_b64encode(b"9" * 30).decode()}, "cursor"),
        ("/api/v1/payments", {"cursor": base64.urlsafe_b64encode(b"\x00|\x00").decode()}, "cursor"),
        ("/api/v1/payments", {"limit": "1e3"}, "limit"),
        ("/api/v1/payments", {"limit": str(10**40)}, "limit"),
        ("/api/v1/payments", {"status": "INITIATED' OR '1'='1"}, "status"),
    ],
)
async def test_hostile_query_parameters_are_400(
    world: World, path: str, query: dict[str, str], field: str
) -> None:
    response = await world.client.get(path, params=query, headers=world.auth("everything"))
    assert field in [d["field"] for d in await refused(response)]


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/audit-logs"])
async def test_the_last_representable_day_is_a_valid_upper_bound(world: World, path: str) -> None:
    await world.create_payment()
    response = await world.client.get(
        path, params={"from": "0001-01-01", "to": "9999-12-31"}, headers=world.auth("everything")
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["items"]


async def test_every_missing_field_is_named_once(world: World) -> None:
    response = await world.client.post(PAYMENTS, json={}, headers=world.auth("maker"))
    details = await refused(response)
    assert details == [
        {"field": name, "message": "is required"}
        for name in ("amount", "currency", "debtor", "creditor")
    ]


def sent_as(content_type: str | None) -> dict[str, Any]:
    """Request options that send exactly this Content-Type, or none at all."""
    if content_type is None:
        return {"skip_auto_headers": ("Content-Type",)}
    return {"headers": {"Content-Type": content_type}}


async def unsupported(response: Any) -> None:
    await refused(response, 415)
    error = (await response.json())["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["details"] == [{"field": "Content-Type", "message": "must be application/json"}]


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text"),
        pytest.param("text/plain; charset=utf-8", id="text-utf8"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("multipart/form-data; boundary=paywire", id="multipart"),
        pytest.param("application/jsonp", id="jsonp"),
        pytest.param("application/json, text/plain", id="list"),
        pytest.param(None, id="none"),
    ],
)
async def test_a_body_not_sent_as_json_is_415_everywhere(
    world: World, content_type: str | None
) -> None:
    assert len(WITH_BODY) >= 7
    options = sent_as(content_type)
    auth = world.auth("everything")
    options["headers"] = {**options.get("headers", {}), **auth}
    for method, path in WITH_BODY:
        response = await world.client.request(method, path, data=b"{}", **options)
        await unsupported(response)


@pytest.mark.parametrize(
    "charset", [pytest.param("iso-8859-1", id="latin-1"), pytest.param("utf-16", id="utf-16")]
)
async def test_a_body_in_another_charset_is_415_not_read_as_utf_8(
    world: World, charset: str
) -> None:
    """Latin-1's "Zo\u00eb" would be read as broken UTF-8; the sender is told what to send."""
    body = orjson.dumps(payment_body(remittance_info="Zo\u00eb")).decode().encode(charset)
    response = await world.client.post(
        PAYMENTS,
        data=body,
        headers={**world.auth("maker"), "Content-Type": f"application/json; charset={charset}"},
    )
    await refused(response, 415)
    error = (await response.json())["error"]
    assert error["details"] == [{"field": "Content-Type", "message": "charset must be utf-8"}]
    assert "UTF-8" in error["message"]
    assert await world.pool.fetchval("SELECT count(*) FROM payments") == 0


async def test_a_page_elsewhere_can_neither_log_in_nor_lock_anyone_out(world: World) -> None:
    """A text/plain POST is a CORS simple request: any page an operator opens may send one to
    the gateway on their machine, unasked. As JSON, the same requests need a preflight, which
    the gateway does not grant."""
    wrong = orjson.dumps({"username": "admin", "password": "not the password"})
    for _ in range(LOCKOUT_ATTEMPTS + 1):
        await unsupported(await world.client.post(LOGIN, data=wrong, **sent_as("text/plain")))
    right = orjson.dumps({"username": "admin", "password": PASSWORD})
    await unsupported(await world.client.post(LOGIN, data=right, **sent_as("text/plain")))
    assert await world.pool.fetchval("SELECT count(*) FROM login_throttle") == 0
    sessions = await world.pool.fetchval("SELECT count(*) FROM sessions")
    created = await world.client.post(
        PAYMENTS,
        data=orjson.dumps(payment_body()),
        headers={**world.auth("maker"), "Content-Type": "text/plain"},
    )
    await unsupported(created)
    assert await world.pool.fetchval("SELECT count(*) FROM payments") == 0
    for content_type in ("application/json; charset=utf-8", "Application/JSON; charset=UTF8"):
        response = await world.client.post(LOGIN, data=right, **sent_as(content_type))
        assert response.status == 200, await response.text()
    assert await world.pool.fetchval("SELECT count(*) FROM sessions") == sessions + 2
