"""The reconciliation and audit-export endpoints: shapes of SPEC §7, CSV that parses back to the
JSON (and to the database), roles, and routing next to /api/v1/payments/{id}."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from paywire.api import create_app, streams
from paywire.config import Settings
from paywire.domain.audit_chain import AuditEntry
from paywire.services.audit import EXPORT_COLUMNS
from paywire.store import audit
from paywire.store.database import create_pool
from paywire.store.tx import Pool
from tests.api.world import World, breaks_through_the_api, make_world
from tests.fixtures.app import Serve
from tests.fixtures.breaks import Breaks
from tests.fixtures.waiting import lock_waiters, poll

DAILY = "/api/v1/payments/reconciliation/daily"
AGING = "/api/v1/payments/reconciliation/aging"
EXPORT = "/api/v1/audit-logs/export"
# Any valid day, where only the request's shape matters.
SOME_DAY = "2026-01-15"


def today() -> str:
    """Asked when a test needs it, not once when the module is collected: the suite may run
    past midnight (UTC) before it gets here. Only where what the day holds does not matter:
    the day of rows the test made is read from them (`made_on`)."""
    return datetime.now(UTC).date().isoformat()


async def made_on(world: World) -> str:
    """The day (UTC) the test's payments were stored on, which is not `today()` if the suite
    ran past midnight since they were made."""
    made: datetime = await world.pool.fetchval("SELECT min(created_at) FROM payments")
    return made.astimezone(UTC).date().isoformat()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """An answer is due a millisecond after the only transmission: unanswered means missing."""
    return Settings(
        log_dir=tmp_path / "logs", data_dir=tmp_path / "data", ack_timeout_s=0.001, max_attempts=1
    )


@pytest.fixture
async def breaks(world: World, owner_pool: Pool) -> Breaks:
    return await breaks_through_the_api(world, owner_pool)


async def get(world: World, path: str, who: str = "auditor", **query: str) -> Any:
    response = await world.client.get(path, params=query, headers=world.auth(who))
    assert response.status == 200, await response.text()
    return response


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def as_csv(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in item.items()} for item in items]


async def test_the_daily_report_has_the_documented_shape(world: World, breaks: Breaks) -> None:
    day = await made_on(world)
    response = await get(world, DAILY, date=day)
    assert response.content_type == "application/json"
    assert response.headers["X-Request-Id"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    body = await response.json()
    assert set(body) == {"date", "as_of", "totals", "by_currency", "unmatched"}
    assert body["date"] == day
    assert body["totals"] == {"payments": 4, "matched": 1, "unmatched": 4}
    assert body["by_currency"] == [
        {"currency": "EUR", "payments": 4, "amount": "406.00", "matched": 1, "unmatched": 3}
    ]
    items = {i["category"]: i for i in body["unmatched"]}
    assert set(items) == {"MISSING_ACK", "LEDGER_MISMATCH", "MISSING_REVERSAL", "ORPHAN_ACK"}
    assert items["MISSING_ACK"]["payment_id"] == str(breaks.missing_ack)
    assert items["ORPHAN_ACK"]["payment_id"] is None
    assert items["ORPHAN_ACK"]["msg_id"] == breaks.orphan_msg_id
    for item in body["unmatched"]:
        assert set(item) == {"payment_id", "msg_id", "category", "detail", "since", "exception_id"}


async def test_the_daily_csv_is_the_unmatched_list(world: World, breaks: Breaks) -> None:
    day = await made_on(world)
    body = await (await get(world, DAILY, date=day)).json()
    response = await get(world, DAILY, "admin", date=day, format="csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="reconciliation-{day}.csv"'
    )
    assert response.headers["X-Request-Id"]
    text = await response.text()
    assert text.splitlines()[0] == "payment_id,msg_id,category,detail,since,exception_id"
    assert csv_rows(text) == as_csv(body["unmatched"])


async def test_aging_lists_outstanding_items_older_than_n_days(
    world: World, breaks: Breaks
) -> None:
    body = await (await get(world, AGING, days="0")).json()
    assert body["days"] == 0
    assert {i["category"] for i in body["unmatched"]} == {"MISSING_ACK", "ORPHAN_ACK"}
    assert (await (await get(world, AGING, "admin", days="1")).json())["unmatched"] == []
    text = await (await get(world, AGING, days="0", format="csv")).text()
    assert csv_rows(text) == as_csv(body["unmatched"])


async def test_reconciliation_is_no_payment_id_but_an_unknown_path(
    world: World, breaks: Breaks
) -> None:
    day = today()
    payment = await world.create_payment()
    for key in (payment["id"], payment["reference"]):
        response = await world.client.get(f"/api/v1/payments/{key}", headers=world.auth("maker"))
        assert response.status == 200
        assert (await response.json())["id"] == payment["id"]
    assert (await get(world, DAILY, date=day)).status == 200
    unknown = await world.client.get("/api/v1/payments/nothing/here", headers=world.auth("admin"))
    assert unknown.status == 404
    assert (await unknown.json())["error"] == {
        "code": "NOT_FOUND",
        "message": "no such path: the endpoints are listed at /api-docs",
        "details": [],
    }
    for method, path, headers in (
        ("GET", "/api/v1/payments/reconciliation", world.auth("auditor")),
        ("GET", "/api/v1/payments/reconciliation", {}),
        ("POST", "/api/v1/payments/reconciliation/approve", world.auth("everything")),
    ):
        missing = await world.client.request(method, path, headers=headers)
        assert missing.status == 404, (method, path)
        assert (await missing.json())["error"] == (await unknown.json())["error"], path


@pytest.mark.parametrize(
    ("path", "query"),
    [(DAILY, {"date": SOME_DAY}), (AGING, {"days": "1"}), (EXPORT, {"date": SOME_DAY})],
)
async def test_admin_and_auditor_only(world: World, path: str, query: dict[str, str]) -> None:
    for who, status in (("admin", 200), ("auditor", 200), ("maker", 403), ("checker", 403)):
        response = await world.client.get(path, params=query, headers=world.auth(who))
        assert response.status == status, who
    assert (await world.client.get(path, params=query)).status == 401


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (DAILY, {}),
        (DAILY, {"date": "2026-02-30"}),
        (DAILY, {"date": "20260115"}),
        (DAILY, {"date": SOME_DAY, "format": "xml"}),
        (AGING, {}),
        (AGING, {"days": "-1"}),
        (AGING, {"days": "a week"}),
        (EXPORT, {}),
        (EXPORT, {"date": "yesterday"}),
    ],
)
async def test_invalid_queries_are_refused(world: World, path: str, query: dict[str, str]) -> None:
    response = await world.client.get(path, params=query, headers=world.auth("admin"))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION"


@pytest.mark.parametrize("path", [DAILY, EXPORT])
@pytest.mark.parametrize("when", ["9999-12-31", "the day after tomorrow"])
async def test_a_day_s_report_of_a_day_after_today_is_refused(
    world: World, path: str, when: str
) -> None:
    """Its empty report (or export) would pass for a clean one. Today's is made, as of the
    request; the day after tomorrow, as tomorrow may be today by the time it is answered."""
    day = when if when[0].isdigit() else (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    response = await world.client.get(path, params={"date": day}, headers=world.auth("admin"))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], error["message"]) == ("VALIDATION", "invalid query")
    [detail] = error["details"]
    assert detail["field"] == "date"
    assert detail["message"].startswith("must not be after today (")
    assert detail["message"].endswith(", UTC): the report of a day can be made from that day on")
    assert (await get(world, path, date=today())).status == 200


async def test_the_audit_export_streams_the_days_rows(world: World, breaks: Breaks) -> None:
    stored = await world.pool.fetch(
        "SELECT id, hash, action, timestamp FROM audit_logs ORDER BY id"
    )
    stamped = {r["id"]: r["timestamp"].astimezone(UTC).date().isoformat() for r in stored}
    # Each day the rows were stamped on (one, unless the breaks were made across midnight UTC)
    # exports that day's rows, all of them.
    for day in sorted(set(stamped.values())):
        response = await get(world, EXPORT, date=day)
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="audit-{day}.csv"'
        )
        rows = csv_rows(await response.text())
        assert [(int(r["id"]), r["hash"], r["action"]) for r in rows] == [
            (r["id"], r["hash"], r["action"]) for r in stored if stamped[r["id"]] == day
        ]
        assert list(rows[0]) == list(EXPORT_COLUMNS)
    empty = await get(world, EXPORT, date="2001-01-01")
    assert await empty.text() == ",".join(EXPORT_COLUMNS) + "\r\n"


async def test_an_export_to_a_client_that_stops_reading_gives_its_connection_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export holds a database connection while it streams; a client that sends its
    request and never reads must not hold it for ever."""
    # The rows' stamp, and so the day exported: a day of their own reading of the clock would
    # be empty if the suite ran past midnight (UTC) in between.
    at = datetime.now(UTC)
    day = at.date().isoformat()
    monkeypatch.setattr(streams, "WRITE_TIMEOUT_S", 0.5)
    padding = "x" * 1500  # ~15 MB of CSV: more than the sockets' buffers hold
    async with world.pool.acquire() as conn, conn.transaction():
        await audit.append(
            conn,
            [
                AuditEntry("system", "test", "row", str(n), after={"p": padding})
                for n in range(10_000)
            ],
            at,
        )
    in_use = world.pool.get_size() - world.pool.get_idle_size()
    response = await world.client.get(EXPORT, params={"date": day}, headers=world.auth("auditor"))
    assert response.status == 200

    async def given_back() -> bool:
        return world.pool.get_size() - world.pool.get_idle_size() == in_use

    # Not reading: the server's writes wait, it gives up, and the connection is back in the pool.
    await poll(given_back, 10, what="the export's connection back in the pool")
    response.close()


async def test_reports_wait_for_the_database_as_long_as_they_must(
    serve: Serve, settings: Settings, database: str
) -> None:
    """The API's statements time out after 0.2 s here, as the gateway's do after
    PAYWIRE_DB_COMMAND_TIMEOUT_S; a day's report held up well past that by a lock (a big day
    takes as long) still answers, on the reports' own pool."""
    bounded = await create_pool(database, min_size=1, max_size=4, command_timeout=0.2)
    reports = await create_pool(database, min_size=0, max_size=1, command_timeout=None)
    holder, watcher = await asyncpg.connect(database), await asyncpg.connect(database)
    try:
        world = await make_world(
            await serve(create_app(settings, bounded, reports_pool=reports)), bounded
        )
        locked = holder.transaction()
        await locked.start()
        await holder.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")
        asked = asyncio.ensure_future(
            world.client.get(DAILY, params={"date": today()}, headers=world.auth("auditor"))
        )
        # Seen from a connection of its own: the holder's transaction would not see it change.
        await poll(
            lambda: lock_waiters(watcher, waited_s=0.6), what="the report waiting for the lock"
        )
        await locked.rollback()
        response = await asked
        assert response.status == 200, await response.text()
    finally:
        await holder.close()
        await watcher.close()
        await reports.close()
        await bounded.close()
