"""ADMIN view of the TLS pool and the manual circuit-breaker reset (audited).

Both answer 503 in a process that runs no transport, rather than pretending the pool is empty.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from paywire.api import schemas
from paywire.api.errors import Unavailable
from paywire.api.jsonio import json_response
from paywire.api.keys import TRANSPORT, TransportView
from paywire.api.routes import Reply, Routes

routes = Routes("admin")

ADMIN = ("ADMIN",)


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
    before = transport.breaker.state.name
    transport.reset_breaker()
    after = transport.breaker.state.name
    return json_response({"state": after, "previous_state": before})
