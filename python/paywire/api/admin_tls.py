"""ADMIN view of the TLS pool and the manual circuit-breaker reset (audited).

Both answer 503 in a process that runs no transport, rather than pretending the pool is empty.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from paywire.api import schemas
from paywire.api.errors import Unavailable
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, REQUEST_ID, TRANSPORT, TransportView
from paywire.api.routes import Reply, Routes, operator
from paywire.domain.roles import Role
from paywire.services import admin_actions

routes = Routes("admin")

ADMIN = (Role.ADMIN,)


def _transport(request: web.Request) -> TransportView:
    transport = request.app[TRANSPORT]
    if transport is None:
        raise Unavailable("this gateway process runs no TLS transport")
    return transport


def tls_status(transport: TransportView) -> dict[str, Any]:
    stats = dict(transport.stats())
    breaker = stats.pop("breaker", {"state": transport.breaker.state.name})
    return {**stats, "circuit_breaker": breaker}


@routes.get(
    "/api/v1/admin/tls",
    summary="TLS pool: each connection's state, in-flight, sent, ACKs, NACKs; the breaker",
    roles=ADMIN,
    replies={200: Reply("Pool status", schemas.ref("TlsStatus"))},
    errors=(503,),
)
async def get_tls(request: web.Request) -> web.Response:
    return json_response(tls_status(_transport(request)))


@routes.post(
    "/api/v1/admin/tls/circuit-breaker/reset",
    summary="Close the circuit breaker by hand",
    roles=ADMIN,
    replies={200: Reply("The breaker after the reset", schemas.ref("BreakerState"))},
    errors=(503,),
    description="Writes an audit record with the state before and after.",
)
async def reset_breaker(request: web.Request) -> web.Response:
    transport = _transport(request)
    before, after = await admin_actions.reset_circuit_breaker(
        request.app[DB_POOL],
        operator(request),
        lambda: transport.breaker.state,
        transport.reset_breaker,
        request_id=request[REQUEST_ID],
    )
    return json_response({"state": after, "previous_state": before})
