"""The audit log for AUDITOR and ADMIN: query newest first, export a day, verify the chain.

The export streams from a server-side cursor, so a day of any size never sits in memory.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from paywire.api import params, schemas, streams
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, REPORTS_POOL
from paywire.api.paging import decode_cursor, page, parse_int
from paywire.api.routes import Param, Reply, Routes, query
from paywire.domain.roles import Role
from paywire.services import audit as service
from paywire.services.streaming import csv_chunks
from paywire.store import audit
from paywire.store.tx import Record, connection

routes = Routes("audit")

READERS = (Role.AUDITOR, Role.ADMIN)
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
FILTERS = (
    Param("entity", _TEXT, "Only rows about this kind of entity, e.g. `payment`"),
    Param("entity_id", _TEXT, "Only rows about this entity"),
    Param("operator", _TEXT, "Only rows written by this operator (or `system`)"),
    Param("action", _TEXT, "Only rows of this action"),
    Param("from", schemas.DATE, "Rows stamped on or after this UTC day"),
    Param("to", schemas.DATE, "Rows stamped on or before this UTC day"),
)


@routes.get(
    "/api/v1/audit-logs",
    summary="Audit records, newest first",
    roles=READERS,
    params=(*FILTERS, *params.PAGING),
    replies={200: Reply("A page of audit records", schemas.ref("AuditLogList"))},
)
async def list_audit_logs(request: web.Request) -> web.Response:
    q = query(request)
    limit = params.limit(q)
    since, until = params.days(q)
    async with connection(request.app[DB_POOL]) as conn:
        rows = await audit.page(
            conn,
            limit=limit + 1,
            after=decode_cursor(q["cursor"], parse_int) if "cursor" in q else None,
            entity=q.get("entity"),
            entity_id=q.get("entity_id"),
            operator=q.get("operator"),
            action=q.get("action"),
            since=since,
            until=until,
            as_stored=True,
        )
    return json_response(page(rows, limit, _shown, lambda r: (r["id"],)))


def _shown(row: Record) -> dict[str, Any]:
    """A row as the export writes it: its timestamp as the chain hashes it, always with
    microseconds; before and after as stored, JSON text passed through, so that a value Python
    cannot hold (1e400, a year past 9999) is shown, not a 500 for the page."""
    return {
        **row,
        "before": _stored(row["before"]),
        "after": _stored(row["after"]),
    }


def _stored(text: str | None) -> orjson.Fragment | None:
    return None if text is None else orjson.Fragment(text)


@routes.get(
    "/api/v1/audit-logs/verify",
    summary="Check the audit log's hash chain",
    roles=READERS,
    replies={
        200: Reply("Whether every row chains to the previous one", schemas.ref("AuditVerify"))
    },
)
async def verify_audit_logs(request: web.Request) -> web.Response:
    result = await service.verify(request.app[REPORTS_POOL])
    return json_response(result.as_dict())


@routes.get(
    "/api/v1/audit-logs/export",
    summary="One UTC day of the audit log as CSV, with the hashes",
    roles=READERS,
    params=(
        Param(
            "date",
            schemas.DATE,
            "The UTC day the rows were stamped on: today (UTC) or before",
            required=True,
        ),
    ),
    replies={
        200: Reply(
            "The day's rows, oldest first, under a header row",
            schemas.CSV,
            content_type=streams.CSV_CONTENT_TYPE,
        )
    },
    description="Columns: " + ", ".join(f"`{c}`" for c in service.EXPORT_COLUMNS) + ". "
    "`before` and `after` are JSON with sorted keys and timestamps are written as hashed, so "
    "the chain can be re-verified from the file alone (docs/DATABASE.md).",
)
async def export_audit_logs(request: web.Request) -> web.StreamResponse:
    day = params.report_day(query(request))
    async with service.export(request.app[REPORTS_POOL], day) as rows:
        return await streams.stream(
            request,
            csv_chunks(service.EXPORT_COLUMNS, rows),
            content_type=streams.CSV_CONTENT_TYPE,
            filename=f"audit-{day.isoformat()}.csv",
        )
