"""Ledger accounts and their entries (GET /api/v1/accounts, /api/v1/accounts/{id}/entries).

Read-only: balances change through postings only, never through this API.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL
from paywire.api.paging import decode_cursor, page, parse_int
from paywire.api.routes import ANY_OPERATOR, Reply, Routes, query
from paywire.errors import NotFound
from paywire.store import ledger
from paywire.store.tx import connection

routes = Routes("accounts")


@routes.get(
    "/api/v1/accounts",
    summary="Ledger accounts with their balances",
    roles=ANY_OPERATOR,
    replies={200: Reply("All ledger accounts", schemas.ref("AccountList"))},
)
async def list_accounts(request: web.Request) -> web.Response:
    async with connection(request.app[DB_POOL]) as conn:
        accounts = await ledger.accounts(conn)
    return json_response({"items": [a.as_dict() for a in accounts], "next_cursor": None})


@routes.get(
    "/api/v1/accounts/{id}/entries",
    summary="An account's ledger entries, newest first",
    roles=ANY_OPERATOR,
    params=params.PAGING,
    replies={200: Reply("A page of entries", schemas.ref("EntryList"))},
)
async def list_entries(request: web.Request) -> web.Response:
    account_id = params.uuid_path(request.match_info["id"], "account")
    q = query(request)
    limit = params.limit(q)
    after = decode_cursor(q["cursor"], parse_int) if "cursor" in q else None
    async with connection(request.app[DB_POOL]) as conn:
        if await ledger.account(conn, account_id) is None:
            raise NotFound(f"no account {account_id}")
        entries = await ledger.entries(conn, account_id, limit=limit + 1, after=after)
    return json_response(page(entries, limit, lambda e: e.as_dict(), lambda e: (e.id,)))
