"""The application factory: one aiohttp app per gateway process, built from its parts.

`paywire serve` passes the settings, the database pool, the TLS transport and the draining event
it sets on SIGTERM; tests build the same app around a real database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web

from paywire.api import (
    accounts,
    admin_tls,
    audit,
    auth,
    docs,
    exception_queue,
    health,
    metrics,
    operators,
    payments,
    reconciliation,
    schemas,
    ui,
)
from paywire.api.jsonio import dumps
from paywire.api.keys import (
    DB_POOL,
    DRAINING,
    LOGIN_ATTEMPTS,
    OPENAPI_DOCUMENT,
    PIPELINE,
    REPORTS_POOL,
    SESSION_CACHE,
    SETTINGS,
    TRANSPORT,
    PipelineView,
    TransportView,
)
from paywire.api.middlewares import MAX_BODY_BYTES, MIDDLEWARES
from paywire.api.openapi import build_document
from paywire.api.routes import Endpoint, install
from paywire.config import Settings
from paywire.shared_state import SharedState
from paywire.store.tx import Pool

# Each resource module contributes its `routes`; later parts add theirs to this list, in the
# order the OpenAPI document lists them. The router needs no order: a `{variable}` never takes a
# word another path has in its place (`routes.install`).
RESOURCES = (
    health,
    metrics,
    docs,
    ui,
    auth,
    reconciliation,
    payments,
    accounts,
    operators,
    admin_tls,
    audit,
    exception_queue,
)


def endpoints() -> Iterable[Endpoint]:
    for module in RESOURCES:
        yield from module.routes.endpoints


def create_app(
    settings: Settings,
    db_pool: Pool,
    *,
    transport: TransportView | None = None,
    pipeline: PipelineView | None = None,
    draining: asyncio.Event | None = None,
    shared: SharedState | None = None,
    reports_pool: Pool | None = None,
) -> web.Application:
    """The admin surface. Without `transport` the TLS endpoints answer 503 and /health reports
    the TLS checks as degraded; without `pipeline` approvals wait for a pipeline elsewhere to
    poll and retry answers 503; `draining`, once set, turns /health into 503; `shared` (from
    REDIS_URL) counts login attempts and caches sessions in Redis; `reports_pool`, when given,
    runs the reports and exports, which `db_pool`'s statement timeout would cut short on a
    big day."""
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[DB_POOL] = db_pool
    app[REPORTS_POOL] = reports_pool or db_pool
    app[TRANSPORT] = transport
    app[PIPELINE] = pipeline
    app[DRAINING] = draining if draining is not None else asyncio.Event()
    app[LOGIN_ATTEMPTS] = shared.attempts(db_pool) if shared is not None else None
    app[SESSION_CACHE] = shared.sessions if shared is not None else None
    registered = list(endpoints())
    install(app, registered, schemas.COMPONENTS)
    app[OPENAPI_DOCUMENT] = dumps(build_document(registered, schemas.COMPONENTS))
    docs.add_static(app)
    ui.add_static(app)
    return app
