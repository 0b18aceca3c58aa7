"""Typed keys for what hangs on the app and on each request, and the shapes of those objects.

The API sees the transport and the pipeline through these small protocols, and operators as
the domain's `Operator`: never the classes behind them. The database is the pool services take.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

from aiohttp import web

from paywire.config import Settings
from paywire.domain.operators import Operator
from paywire.domain.roles import Actor
from paywire.services.auth_state import AttemptCounter, SessionCache
from paywire.services.exception_queue import Driver
from paywire.store.tx import Pool


class BreakerView(Protocol):
    """The circuit breaker's state: CLOSED, HALF_OPEN or OPEN."""

    @property
    def state(self) -> enum.Enum: ...


class TransportView(Protocol):
    """The TLS pool (`paywire.transport.pool.ConnectionPool`) as the admin surface sees it."""

    @property
    def breaker(self) -> BreakerView: ...
    @property
    def open_connections(self) -> int: ...
    def reset_breaker(self) -> None: ...
    def stats(self) -> Mapping[str, Any]: ...


class PipelineView(Driver, Protocol):
    """The processing pipeline (`paywire.pipeline.runner.Pipeline`) as the admin surface uses
    it: `retry`, `grant_retry`, `release` and `ledger` for operators' retries and exception
    actions."""

    async def retry(
        self, payment_id: UUID, actor: Actor, *, request_id: str | None = None
    ) -> None: ...

    def wake(self) -> None: ...


SETTINGS = web.AppKey("settings", Settings)
DB_POOL: web.AppKey[Pool] = web.AppKey("db_pool")
# Where the reports and exports run (a day's reconciliation, the audit export and verification):
# statements without the gateway's timeout, on connections of their own (docs/API.md).
REPORTS_POOL: web.AppKey[Pool] = web.AppKey("reports_pool")
TRANSPORT: web.AppKey[TransportView | None] = web.AppKey("transport")
PIPELINE: web.AppKey[PipelineView | None] = web.AppKey("pipeline")
# Set by `paywire serve` on SIGTERM: /health answers 503 so balancers stop sending traffic.
DRAINING = web.AppKey("draining", asyncio.Event)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
# Shared through Redis when REDIS_URL is set; None: PostgreSQL alone (see paywire.shared_state).
LOGIN_ATTEMPTS: web.AppKey[AttemptCounter | None] = web.AppKey("login_attempts")
SESSION_CACHE: web.AppKey[SessionCache | None] = web.AppKey("session_cache")

REQUEST_ID = web.RequestKey("request_id", str)
# The payment a request is about, once known: the request's log line names it (SPEC §10a).
PAYMENT_ID = web.RequestKey("payment_id", UUID)
OPERATOR = web.RequestKey("operator", Operator)
BODY = web.RequestKey("body", dict)
QUERY = web.RequestKey("query", dict)
