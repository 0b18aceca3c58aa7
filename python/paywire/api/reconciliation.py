"""Reconciliation reports for ADMIN and AUDITOR: a day's report, and the aging of what is open.

Both stream, as JSON or (`format=csv`) as CSV of the unmatched list; `/api/v1/payments/{id}`
never takes `reconciliation` for an id (`routes.install`).
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import schemas, streams
from paywire.api.keys import REPORTS_POOL, SETTINGS
from paywire.api.params import report_day
from paywire.api.routes import Param, Reply, Routes, query
from paywire.domain.roles import Role
from paywire.services import reconciliation as service
from paywire.services.reconciliation import Report

routes = Routes("reconciliation")

READERS = (Role.ADMIN, Role.AUDITOR)
FORMAT = Param(
    "format",
    {"type": "string", "enum": ["json", "csv"], "default": "json"},
    "`csv`: the unmatched list alone, one row per item under a header row",
)
MAX_AGING_DAYS = 36500
CSV_FORM = {streams.CSV_CONTENT_TYPE: schemas.CSV}


async def _send(request: web.Request, report: Report, filename: str) -> web.StreamResponse:
    if query(request).get("format") == "csv":
        return await streams.stream(
            request, report.csv(), content_type=streams.CSV_CONTENT_TYPE, filename=filename
        )
    return await streams.stream(request, report.json())


@routes.get(
    "/api/v1/payments/reconciliation/daily",
    summary="The reconciliation of a day's payments against the ledger and the answers",
    roles=READERS,
    params=(
        Param(
            "date",
            schemas.DATE,
            "The UTC day the payments were created on: today (UTC) or before",
            required=True,
        ),
        FORMAT,
    ),
    replies={
        200: Reply(
            "The day's totals and its unmatched items",
            schemas.ref("ReconciliationDaily"),
            alternatives=CSV_FORM,
        )
    },
    description="Every payment created that day (UTC) is matched against its ledger entries "
    "and its receiver answer; answers received that day naming no known message are "
    "ORPHAN_ACK. The report is as of the request.",
)
async def daily_reconciliation(request: web.Request) -> web.StreamResponse:
    day = report_day(query(request))
    window = service.answer_window(request.app[SETTINGS])
    async with service.daily(request.app[REPORTS_POOL], day, answer_window=window) as report:
        return await _send(request, report, f"reconciliation-{day.isoformat()}.csv")


@routes.get(
    "/api/v1/payments/reconciliation/aging",
    summary="Unmatched items older than N days, whatever their day",
    roles=READERS,
    params=(
        Param(
            "days",
            {"type": "integer", "minimum": 0, "maximum": MAX_AGING_DAYS},
            "Only items unmatched for longer than this many days",
            required=True,
        ),
        FORMAT,
    ),
    replies={
        200: Reply(
            "The outstanding unmatched items, oldest first",
            schemas.ref("ReconciliationAging"),
            alternatives=CSV_FORM,
        )
    },
    description="Outstanding items: TRANSMITTED payments still unanswered, items with an OPEN "
    "exception, and answers naming no known message that no operator resolved.",
)
async def aging_reconciliation(request: web.Request) -> web.StreamResponse:
    days: int = query(request)["days"]
    window = service.answer_window(request.app[SETTINGS])
    async with service.aging(request.app[REPORTS_POOL], days, answer_window=window) as report:
        return await _send(request, report, f"aging-{days}-days.csv")
