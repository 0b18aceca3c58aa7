"""One gateway process: database, TLS pool, pipeline and admin surface, started and drained.

`run_gateway` is what `paywire serve` (and `paywire demo`) run; it returns on SIGTERM or SIGINT
after draining, so nothing in flight is lost and the next start resumes where this one ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from paywire.api.app import create_app
from paywire.config import Settings
from paywire.errors import host_port, listen_refusal
from paywire.pipeline.housekeeping import Housekeeping
from paywire.pipeline.runner import Pipeline
from paywire.pipeline.settler import Settler
from paywire.services.screening import load_rules
from paywire.shared_state import SharedState
from paywire.store import migrator
from paywire.store.database import open_database
from paywire.store.ledger import PostgresLedger
from paywire.transport.breaker import SharedBreaker
from paywire.transport.pool import ConnectionPool

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HTTP_SHUTDOWN_S = 5.0
# Reports and exports run at most this many at a time per process, on connections of their
# own without the statement timeout (a big day's report, the whole chain's verification); more
# wait for one. The rest of the API keeps PAYWIRE_DB_POOL_MAX for itself.
REPORT_CONNECTIONS = 2


async def run_gateway(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run until `stop` is set or a stop signal arrives, then drain and close everything.

    `on_ready` receives the admin surface's URL once it accepts requests.
    """
    settings.require("receiver_host", "receiver_port", "sender_bic", "receiver_bic")
    rules = load_rules(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    # Whatever fails on the way up (the database, a Redis URL), what was already set up is
    # undone in reverse: no embedded server left running, no handler left on the loop.
    async with contextlib.AsyncExitStack() as undo:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, _stop_once, stop, settings.drain_timeout_s)
            undo.callback(loop.remove_signal_handler, signum)
        db = await open_database(settings, gateway=True)
        undo.push_async_callback(db.close)
        shared = SharedState.from_settings(settings, db.pool)
        if shared is not None:
            undo.push_async_callback(shared.close)
        async with db.pool.acquire() as conn:
            await migrator.require_current(conn)
            if await migrator.owns_schema(conn):
                log.warning(
                    "the gateway's database role owns the schema or is a superuser: it could "
                    "alter the tables and turn off their append-only triggers. Log the gateway "
                    "in as a member of %s and run only `paywire migrate` as the owner "
                    '(docs/SECURITY.md, "Database roles")',
                    migrator.GATEWAY_ROLE,
                )
        ledger = PostgresLedger()
        settler = Settler(db.pool, ledger)
        # Answers the pool no longer waits for (late ones, orphans) are settled like the others;
        # the settler tells them apart against the database.
        pool = ConnectionPool(
            settings,
            on_unmatched=lambda answer, _payload: settler.add(answer),
            shared=_shared_breaker(shared, settings),
        )
        pipeline = Pipeline(settings, db.pool, pool, settler, ledger, rules)
        housekeeping = Housekeeping(settings, await db.unbounded_pool(Housekeeping.CONNECTIONS))
        draining = asyncio.Event()
        app = create_app(
            settings,
            db.pool,
            transport=pool,
            draining=draining,
            pipeline=pipeline,
            shared=shared,
            reports_pool=await db.unbounded_pool(REPORT_CONNECTIONS),
        )
        # Requests still running when the drain ends get a few seconds, not aiohttp's 60: the
        # whole stop must fit the 45 s grace of the deployments (5 s pre-stop, 30 s drain).
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=HTTP_SHUTDOWN_S
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.http_host, settings.http_port)
            try:
                await site.start()
            except OSError as exc:
                raise listen_refusal(
                    exc,
                    settings.http_host,
                    settings.http_port,
                    host_setting=settings.named("http_host"),
                    port_setting=settings.named("http_port"),
                ) from None
            await pool.start()
            try:
                # A stop asked for on the way up (the pool dials for up to its connect timeout)
                # starts no stage: nothing is claimed, let alone screened and posted.
                if not stop.is_set():
                    pipeline.start()
                    housekeeping.start()
                    bound = _bound_port(runner, settings.http_port)
                    url = f"http://{host_port(settings.http_host, bound)}"
                    log.info("gateway ready", extra={"url": url, "settings": settings.redacted()})
                    if on_ready is not None:
                        on_ready(url)
                    await stop.wait()
                log.info("stop requested: draining")
            finally:
                # However the run ends (a stop, a failing caller, a cancelled wait), what is in
                # flight is drained before the database closes under it.
                draining.set()
                # Together: a reconciliation run under way must not keep the stages claiming
                # new work, nor delay the drain's deadline.
                await asyncio.gather(
                    housekeeping.stop(settings.drain_timeout_s),
                    pipeline.drain(settings.drain_timeout_s),
                )
                await pool.close(deadline_s=0)
        finally:
            await runner.cleanup()
    log.info("gateway stopped")


def _stop_once(stop: asyncio.Event, drain_timeout_s: float) -> None:
    """The first stop signal starts the drain; another says it is under way, rather than
    nothing (the drain is bounded, so no second signal is needed to end it)."""
    if stop.is_set():
        log.warning(
            "already stopping: the drain ends within %.0f s of the first signal", drain_timeout_s
        )
    stop.set()


def _shared_breaker(shared: SharedState | None, settings: Settings) -> SharedBreaker | None:
    if shared is None or settings.receiver_host is None or settings.receiver_port is None:
        return None
    return shared.breaker(settings.receiver_host, settings.receiver_port)


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    """The port actually bound: differs from the setting when that is 0 (tests)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return configured
