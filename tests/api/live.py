"""A gateway app served from its own thread and event loop, for clients that block (requests,
as schemathesis uses). The app, its pool and its server all live on that loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class LiveServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.token = ""  # a bearer token, when the build step made one

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coro` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, build: Callable[[], Awaitable[web.Application]]) -> None:
        self._thread.start()
        self.run(self._start(build))

    async def _start(self, build: Callable[[], Awaitable[web.Application]]) -> None:
        self._runner = web.AppRunner(await build())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        async def _stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if cleanup is not None:
                await cleanup()

        self.run(_stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
