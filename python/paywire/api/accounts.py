"""Ledger accounts and their entries (GET /api/v1/accounts, /api/v1/accounts/{id}/entries).

Read-only: balances change through postings only, never through this API.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL
from paywire.api.paging import decode_cursor, page, parse_int
from paywire.api.routes import ANY_OPERATOR, Reply, Routes, query
from paywire.domain import validation
from paywire.domain.accounts import Account
from paywire.errors import NotFound
from paywire.store import ledger
from paywire.store.tx import Conn, connection

routes = Routes("accounts")
BY_ID_OR_ACCOUNT = (
    "`id` is the account's id (UUID) or its number as `GET /api/v1/accounts` lists it "
    "(`account`, e.g. an IBAN in electronic form: DE89370400440532013000), or as payment entry "
    "takes it (an IBAN in its printed form)."
)


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
    description=BY_ID_OR_ACCOUNT,
    replies={200: Reply("A page of entries", schemas.ref("EntryList"))},
)
async def list_entries(request: web.Request) -> web.Response:
    q = query(request)
    limit = params.limit(q)
    after = decode_cursor(q["cursor"], parse_int) if "cursor" in q else None
    async with connection(request.app[DB_POOL]) as conn:
        account = await _resolve(conn, request.match_info["id"])
        entries = await ledger.entries(conn, account.id, limit=limit + 1, after=after)
    return json_response(page(entries, limit, lambda e: e.as_dict(), lambda e: (e.id,)))


async def _resolve(conn: Conn, key: str) -> Account:
    """The account the path names: by its id, else by its `account`, the number operators know
    it by (which may itself read as a UUID: 32 hex digits are a valid other id). That is read as
    payment entry reads it, so an IBAN in its printed form (spaced, in small letters) names the
    account as its electronic form does."""
    try:
        found = await ledger.account(conn, UUID(key))
    except ValueError:
        found = None
    account = validation.account(key, "id", validation.Problems()) or key
    found = found or await ledger.find_account(conn, account)
    if found is None:
        raise NotFound(
            f"no account {key}: give its id or its number (`account`) as GET /api/v1/accounts "
            "lists them"
        )
    return found
