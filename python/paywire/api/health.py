"""GET /health: can this process do its job right now, for load balancers and alerts; and
GET /health/live: is it running at all, for a liveness probe.

503 when the database is unreachable or the process is draining; `degraded` when payments
cannot leave (breaker not CLOSED, no TLS connection up) but the API still works.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from paywire.api import schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, DRAINING, TRANSPORT, TransportView
from paywire.api.routes import PUBLIC, Reply, Routes
from paywire.observability.metrics import health_status
from paywire.store.database import ping
from paywire.store.tx import Pool

routes = Routes("system")

DB_CHECK_TIMEOUT_S = 2.0
# The `health_status` gauge's value for each overall status.
STATUS_VALUES = {"ok": 0, "degraded": 1, "error": 2}


@routes.get(
    "/health",
    summary="Health of the database, ledger, TLS pool and circuit breaker",
    roles=PUBLIC,
    replies={
        200: Reply("Working (`ok`) or working without transmission (`degraded`)", schemas.HEALTH),
        503: Reply("Not able to serve: database unreachable or draining", schemas.HEALTH),
    },
)
async def health(request: web.Request) -> web.Response:
    overall, checks = await evaluate(request.app)
    return json_response(
        {"status": overall, "checks": checks}, status=503 if overall == "error" else 200
    )


@routes.get(
    "/health/live",
    summary="Whether this process still answers, whatever the database says",
    roles=PUBLIC,
    replies={200: Reply("The event loop runs and serves requests", schemas.LIVE)},
    description="For a liveness probe. `/health` (readiness) fails while the database is away, "
    "and a restart would not bring it back; this fails only when the process itself is stuck.",
)
async def live(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def refresh_health_gauge(app: web.Application) -> None:
    """Set `health_status` to what /health would answer now (read at scrape time)."""
    overall, _checks = await evaluate(app)
    health_status.set(STATUS_VALUES[overall])


async def evaluate(app: web.Application) -> tuple[str, dict[str, dict[str, Any]]]:
    """The overall status (`ok`, `degraded`, `error`) and each check behind it."""
    database = await check_database(app[DB_POOL])
    checks: dict[str, dict[str, Any]] = {
        "database": database,
        # The built-in ledger keeps its accounts in the same database.
        "ledger": {"status": database["status"], "adapter": "postgresql"},
        **check_transport(app[TRANSPORT]),
        "draining": {"status": "error" if app[DRAINING].is_set() else "ok"},
    }
    statuses = {check["status"] for check in checks.values()}
    overall = "error" if "error" in statuses else "degraded" if "degraded" in statuses else "ok"
    return overall, checks


async def check_database(pool: Pool) -> dict[str, Any]:
    try:
        await ping(pool, DB_CHECK_TIMEOUT_S)
    except TimeoutError:
        if pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size():
            # Every connection is busy (a load peak, long exports): the database answers those,
            # so the API is slow, not down. An error here would take every busy pod out of the
            # Service at once, and restart them.
            return {"status": "degraded", "detail": f"all {pool.get_size()} connections in use"}
        return {"status": "error", "detail": "TimeoutError"}
    except Exception as exc:  # any other failure means "unreachable"; /health must not fail
        return {"status": "error", "detail": type(exc).__name__}
    return {"status": "ok"}


def check_transport(transport: TransportView | None) -> dict[str, dict[str, Any]]:
    if transport is None:
        unavailable = {"status": "degraded", "detail": "no TLS transport in this process"}
        return {"tls": unavailable, "circuit_breaker": unavailable}
    up = transport.open_connections
    state = transport.breaker.state
    return {
        "tls": {"status": "ok" if up > 0 else "degraded", "connections_up": up},
        "circuit_breaker": {
            "status": "ok" if state.name == "CLOSED" else "degraded",
            "state": state.name,
        },
    }
