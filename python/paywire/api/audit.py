"""The audit log for AUDITOR and ADMIN: query newest first, and verify the hash chain.

CSV export (`/api/v1/audit-logs/export`) arrives with the reporting endpoints.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL
from paywire.api.paging import decode_cursor, page, parse_int
from paywire.api.routes import Param, Reply, Routes, query
from paywire.domain.roles import Role
from paywire.store import audit
from paywire.store.tx import connection

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
    async with connection(request.app[DB_POOL]) as conn:
        rows = await audit.page(
            conn,
            limit=limit + 1,
            after=decode_cursor(q["cursor"], parse_int) if "cursor" in q else None,
            entity=q.get("entity"),
            entity_id=q.get("entity_id"),
            operator=q.get("operator"),
            action=q.get("action"),
            since=params.day_start(q.get("from")),
            until=params.day_after(q.get("to")),
        )
    return json_response(page(rows, limit, dict, lambda r: (r["id"],)))


@routes.get(
    "/api/v1/audit-logs/verify",
    summary="Check the audit log's hash chain",
    roles=READERS,
    replies={
        200: Reply("Whether every row chains to the previous one", schemas.ref("AuditVerify"))
    },
)
async def verify_audit_logs(request: web.Request) -> web.Response:
    async with connection(request.app[DB_POOL]) as conn:
        result = await audit.verify(conn)
    return json_response(result.as_dict())
