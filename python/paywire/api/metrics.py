"""GET /metrics: the process registry in Prometheus text format (SPEC §8).

Gauges that mirror live objects (the database pool, /health) are refreshed here, at scrape time.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from paywire.api.health import refresh_health_gauge
from paywire.api.keys import DB_POOL
from paywire.api.routes import PUBLIC, Reply, Routes
from paywire.observability.collectors import refresh_db_pool_gauge

routes = Routes("system")


@routes.get(
    "/metrics",
    summary="Prometheus metrics",
    roles=PUBLIC,
    replies={200: Reply("Prometheus text exposition format", {"type": "string"}, "text/plain")},
)
async def metrics(request: web.Request) -> web.Response:
    refresh_db_pool_gauge(request.app[DB_POOL])
    await refresh_health_gauge(request.app)
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
