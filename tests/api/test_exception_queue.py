"""The exception queue over HTTP: list with filters and paging, resolve with a mandatory note,
the resend and mark_settled actions through a (not started) pipeline, audited, ADMIN only."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from paywire.api import create_app
from paywire.config import Settings
from paywire.domain.exception_kinds import ORPHAN_ACK, PROCESSING_ERROR
from paywire.pipeline.recovery import AckMissing
from paywire.services import pipeline, reconciliation
from paywire.store import audit
from paywire.store.exception_queue import NewException
from paywire.store.ledger import PostgresLedger
from paywire.store.tx import Pool
from tests.api.world import World, breaks_through_the_api, make_world
from tests.fixtures.app import Serve
from tests.fixtures.breaks import Breaks
from tests.fixtures.metrics import metric
from tests.fixtures.tls import REFUSING_PORT, TLSFiles, gateway_settings
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import answer, idle_pipeline

QUEUE = "/api/v1/exceptions"


@pytest.fixture
def settings(tls_files: TLSFiles, tmp_path) -> Settings:
    return gateway_settings(
        tls_files,
        REFUSING_PORT,
        sender_bic="PAYWDEFFXXX",
        receiver_bic="RCVRGB2LXXX",
        log_dir=tmp_path / "logs",
        ack_timeout_s=0.001,
        max_attempts=1,
    )


@pytest.fixture
async def world(serve: Serve, settings: Settings, db_pool: Pool) -> World:
    """The app with a pipeline that is never started: actions reach the database through it,
    nothing is sent."""
    pipeline = idle_pipeline(settings, db_pool, PostgresLedger())
    return await make_world(await serve(create_app(settings, db_pool, pipeline=pipeline)), db_pool)


@pytest.fixture
async def breaks(world: World, settings: Settings, owner_pool: Pool) -> Breaks:
    made = await breaks_through_the_api(world, owner_pool)
    wait = timedelta(seconds=settings.ack_timeout_s)
    await AckMissing(world.pool, max_attempts=settings.max_attempts, answer_wait=wait).step(10)
    await reconciliation.sweep(world.pool, answer_window=reconciliation.answer_window(settings))
    return made


async def queue(world: World, who: str = "admin", **query: str) -> Any:
    response = await world.client.get(QUEUE, params=query, headers=world.auth(who))
    assert response.status == 200, await response.text()
    return await response.json()


async def the_open(world: World, kind: str) -> dict[str, Any]:
    (item,) = (await queue(world, state="OPEN", kind=kind))["items"]
    return item


async def resolve(world: World, exception_id: object, body: Any, who: str = "admin") -> Any:
    return await world.client.post(
        f"{QUEUE}/{exception_id}/resolve", json=body, headers=world.auth(who)
    )


async def test_the_queue_lists_filters_and_pages(world: World, breaks: Breaks) -> None:
    everything = (await queue(world))["items"]
    assert {e["kind"] for e in everything} == {
        "ACK_MISSING", "LEDGER_MISMATCH", "MISSING_REVERSAL", "ORPHAN_ACK",
    }  # fmt: skip
    assert set(everything[0]) >= {
        "id", "kind", "payment_id", "msg_id", "state", "opened_at", "resolved_at",
        "resolved_by", "note",
    }  # fmt: skip
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    first = await queue(world, limit="3")
    rest = await queue(world, limit="3", cursor=first["next_cursor"])
    assert [e["id"] for e in first["items"] + rest["items"]] == [e["id"] for e in everything]
    assert rest["next_cursor"] is None
    assert (await the_open(world, "LEDGER_MISMATCH"))["payment_id"] == str(breaks.ledger_mismatch)
    assert (await queue(world, state="RESOLVED"))["items"] == []
    for who, status in (("auditor", 403), ("maker", 403)):
        assert (await world.client.get(QUEUE, headers=world.auth(who))).status == status
    assert (
        await world.client.get(QUEUE, params={"kind": "NOPE"}, headers=world.auth("admin"))
    ).status == 400


async def test_a_note_is_mandatory(world: World, breaks: Breaks) -> None:
    item = await the_open(world, "ORPHAN_ACK")
    for body in ({}, {"note": ""}, {"note": "   "}, {"note": "x", "colour": "red"}):
        response = await resolve(world, item["id"], body)
        assert response.status == 400, body
        assert (await response.json())["error"]["code"] == "VALIDATION"
    assert (await resolve(world, item["id"], {"note": "ok"}, who="auditor")).status == 403
    done = await resolve(world, item["id"], {"note": "receiver: their test message"})
    assert done.status == 200
    body = await done.json()
    assert (body["state"], body["resolved_by"], body["note"]) == (
        "RESOLVED",
        "admin",
        "receiver: their test message",
    )
    assert (await resolve(world, item["id"], {"note": "again"})).status == 409
    for missing in ("999999", "x", "-1", str(2**70)):
        assert (await resolve(world, missing, {"note": "n"})).status == 404
    assert metric("exceptions_open") == 3
    async with world.pool.acquire() as conn:
        (row,) = await audit.page(conn, limit=1, action="exception.resolve")
    assert row["operator"] == "admin"
    assert row["after"]["note"] == "receiver: their test message"


async def test_an_admins_retry_is_audited_with_its_request(world: World, breaks: Breaks) -> None:
    response = await world.client.post(
        f"/api/v1/payments/{breaks.missing_ack}/retry", headers=world.auth("admin")
    )
    assert response.status == 200, await response.text()
    async with world.pool.acquire() as conn:
        (row,) = await audit.page(conn, limit=1, action="payment.retry")
    assert (row["operator"], row["entity_id"]) == ("admin", str(breaks.missing_ack))
    assert row["request_id"] == response.headers["X-Request-Id"]
    assert (row["before"], row["after"]) == (
        {"status": "TRANSMITTED", "attempt_limit": 1},
        {"status": "TRANSMITTED", "attempt_limit": 2},
    )


async def test_resend_grants_one_more_transmission(world: World, breaks: Breaks) -> None:
    item = await the_open(world, "ACK_MISSING")
    response = await resolve(world, item["id"], {"note": "receiver was down", "action": "resend"})
    assert response.status == 200, await response.text()
    message = await world.pool.fetchrow(
        "SELECT attempts, attempt_limit, next_attempt_at FROM messages WHERE payment_id = $1",
        breaks.missing_ack,
    )
    assert (message["attempts"], message["attempt_limit"]) == (1, 2)
    assert message["next_attempt_at"] is not None
    async with world.pool.acquire() as conn:
        (row,) = await audit.page(conn, limit=1, action="exception.resolve")
        (retry,) = await audit.page(conn, limit=1, action="payment.retry")
    assert row["after"]["action"] == {"name": "resend"}
    assert (retry["operator"], retry["entity_id"]) == ("admin", str(breaks.missing_ack))
    assert (retry["before"]["attempt_limit"], retry["after"]["attempt_limit"]) == (1, 2)
    assert retry["request_id"] == row["request_id"]
    # The resolved exception reconciles the item by hand until a new one opens.
    report = await world.client.get(
        "/api/v1/payments/reconciliation/aging", params={"days": "0"}, headers=world.auth("admin")
    )
    categories = {i["category"] for i in (await report.json())["unmatched"]}
    assert "MISSING_ACK" not in categories


async def test_an_answer_that_settles_the_payment_while_an_admin_resends_it_is_said(
    world: World, breaks: Breaks, owner_pool: Pool
) -> None:
    """The ACK arrives while an ADMIN resolves the payment's ACK_MISSING: the settler skips the
    item the resolution holds, and the resolution, waiting for the payment, finds it settled.
    The ADMIN is told so and what to do, not that a resend failed; a note then closes it."""
    item = await the_open(world, "ACK_MISSING")
    msg_id = await world.pool.fetchval(
        "SELECT msg_id FROM payments WHERE id = $1", breaks.missing_ack
    )
    async with owner_pool.acquire() as settler, settler.transaction():
        await settler.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", breaks.missing_ack)
        resending = asyncio.create_task(
            resolve(world, item["id"], {"note": "receiver was down", "action": "resend"})
        )
        await poll(lambda: lock_waiters(owner_pool), what="the resolution waiting for the payment")
        await pipeline.settle(settler, [answer(msg_id, "ACK")], PostgresLedger())
    response = await resending
    assert response.status == 409, await response.text()
    message = (await response.json())["error"]["message"]
    assert message.endswith(
        "is COMPLETED, settled by its first answer: there is nothing to resend or settle;"
        f" resolve exception {item['id']} with a note alone"
    )
    settle = {"action": "mark_settled", "outcome": "NACK", "confirmation": "c"}
    response = await resolve(world, item["id"], {"note": "n", **settle, "reason_code": "AC04"})
    assert response.status == 409
    assert (await response.json())["error"]["message"] == message
    attempts = await world.pool.fetchval(
        "SELECT attempt_limit FROM messages WHERE payment_id = $1", breaks.missing_ack
    )
    assert attempts is None, "no attempt granted"
    assert (await resolve(world, item["id"], {"note": "answered meanwhile"})).status == 200


async def test_a_resend_and_an_exception_opened_for_its_payment_do_not_deadlock(
    world: World, breaks: Breaks, owner_pool: Pool
) -> None:
    """The resend holds the exception, then the payment, and waits for the message row, which
    another transaction holds (the ACK_MISSING sweep taking it off the schedule) while it opens
    an exception naming the payment: a key-share lock on it. Locked FOR UPDATE, the payment
    made that a deadlock, and PostgreSQL aborted one side."""
    item = await the_open(world, "ACK_MISSING")
    msg_id = await world.pool.fetchval(
        "SELECT msg_id FROM payments WHERE id = $1", breaks.missing_ack
    )
    async with owner_pool.acquire() as sweep, sweep.transaction():
        await sweep.execute(
            "UPDATE messages SET next_attempt_at = NULL WHERE payment_id = $1", breaks.missing_ack
        )
        resending = asyncio.create_task(
            resolve(world, item["id"], {"note": "receiver was down", "action": "resend"})
        )
        await poll(lambda: lock_waiters(owner_pool), what="the resend waiting for the message")
        problem = NewException(PROCESSING_ERROR, breaks.missing_ack, msg_id, "a foreign UETR")
        await asyncio.wait_for(pipeline.open_exceptions(sweep, [problem]), 10)
    response = await resending
    assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    "body",
    [
        {"action": "mark_settled"},
        {"action": "mark_settled", "outcome": "ACK"},
        {"action": "mark_settled", "outcome": "NACK", "confirmation": "call 12"},
        {"action": "mark_settled", "outcome": "ACK", "confirmation": "c", "reason_code": "AC04"},
        {"action": "resend", "outcome": "ACK"},
        {"outcome": "ACK", "confirmation": "c"},
    ],
)
async def test_mark_settled_needs_the_receivers_answer(
    world: World, breaks: Breaks, body: dict[str, str]
) -> None:
    item = await the_open(world, "ACK_MISSING")
    response = await resolve(world, item["id"], {"note": "n", **body})
    assert response.status == 400, await response.text()
    assert (await the_open(world, "ACK_MISSING"))["state"] == "OPEN"


async def test_mark_settled_with_the_receivers_ack(world: World, breaks: Breaks) -> None:
    item = await the_open(world, "ACK_MISSING")
    response = await resolve(
        world,
        item["id"],
        {"note": "confirmed by phone", "action": "mark_settled", "outcome": "ACK",
         "confirmation": "RCVR ops ticket 4711"},
    )  # fmt: skip
    assert response.status == 200, await response.text()
    request_id = response.headers["X-Request-Id"]
    payment = await (
        await world.client.get(
            f"/api/v1/payments/{breaks.missing_ack}", headers=world.auth("admin")
        )
    ).json()
    assert payment["status"] == "COMPLETED"
    assert payment["message"]["answer"]["kind"] == "ACK"
    assert payment["message"]["answer"]["status"] == "MANUAL"
    actions = await world.pool.fetch(
        "SELECT operator, action FROM audit_logs WHERE request_id = $1 ORDER BY id", request_id
    )
    assert [tuple(r) for r in actions] == [
        ("system", "payment.complete"),
        ("admin", "exception.resolve"),
    ]
    report = await world.client.get(
        "/api/v1/payments/reconciliation/daily",
        params={"date": payment["created_at"][:10]},
        headers=world.auth("admin"),
    )
    assert str(breaks.missing_ack) not in {
        i["payment_id"] for i in (await report.json())["unmatched"]
    }


async def test_mark_settled_through_another_exception_closes_the_ack_missing_too(
    world: World, breaks: Breaks
) -> None:
    """The payment settled by hand through its PROCESSING_ERROR: its ACK_MISSING, left open,
    sat in the queue beside a COMPLETED payment with nothing left to do."""
    msg_id = await world.pool.fetchval(
        "SELECT msg_id FROM messages WHERE payment_id = $1", breaks.missing_ack
    )
    (other,) = await pipeline.open_exceptions(
        world.pool,
        [
            NewException(
                "PROCESSING_ERROR", breaks.missing_ack, msg_id, "an answer with another UETR"
            )
        ],
    )
    missing = await the_open(world, "ACK_MISSING")
    response = await resolve(
        world,
        other.id,
        {"note": "confirmed by phone", "action": "mark_settled", "outcome": "ACK",
         "confirmation": "RCVR ops ticket 4712"},
    )  # fmt: skip
    assert response.status == 200, await response.text()
    closed = await world.pool.fetchrow(
        "SELECT state, resolved_by, note FROM exceptions WHERE id = $1", missing["id"]
    )
    assert (closed["state"], closed["resolved_by"]) == ("RESOLVED", "system")
    assert closed["note"].startswith(f"settled by hand with exception {other.id}: ACK recorded")


async def test_mark_settled_with_the_receivers_nack_reverses(world: World, breaks: Breaks) -> None:
    item = await the_open(world, "ACK_MISSING")
    response = await resolve(
        world,
        item["id"],
        {"note": "receiver rejected it", "action": "mark_settled", "outcome": "NACK",
         "confirmation": "RCVR ops ticket 4712", "reason_code": "AC04"},
    )  # fmt: skip
    assert response.status == 200, await response.text()
    row = await world.pool.fetchrow(
        "SELECT status, reason_code, reason_text FROM payments WHERE id = $1", breaks.missing_ack
    )
    assert tuple(row) == ("FAILED", "AC04", "RCVR ops ticket 4712")
    kinds = await world.pool.fetch(
        "SELECT kind FROM postings WHERE payment_id = $1 ORDER BY kind", breaks.missing_ack
    )
    assert [r["kind"] for r in kinds] == ["POSTING", "REVERSAL"]


async def test_actions_need_a_transmitted_payment(world: World, breaks: Breaks) -> None:
    for kind, action in (("MISSING_REVERSAL", "resend"), ("ORPHAN_ACK", "resend")):
        item = await the_open(world, kind)
        response = await resolve(world, item["id"], {"note": "n", "action": action})
        assert response.status == 409, await response.text()
    item = await the_open(world, "LEDGER_MISMATCH")  # its payment is COMPLETED
    settle = {"action": "mark_settled", "outcome": "ACK", "confirmation": "c"}
    assert (await resolve(world, item["id"], {"note": "n", **settle})).status == 409
    assert (await the_open(world, "LEDGER_MISMATCH"))["state"] == "OPEN"
    answers = await world.pool.fetchval("SELECT count(*) FROM answers WHERE status = 'MANUAL'")
    assert answers == 0


async def test_actions_need_a_pipeline(serve: Serve, settings: Settings, db_pool: Pool) -> None:
    world = await make_world(await serve(create_app(settings, db_pool)), db_pool)
    (item,) = await pipeline.open_exceptions(
        db_pool, [NewException(ORPHAN_ACK, None, "PWMSOMEONEELSES", "an answer")]
    )
    response = await resolve(world, item.id, {"note": "n", "action": "resend"})
    assert response.status == 503
    assert (await resolve(world, item.id, {"note": "theirs"})).status == 200
