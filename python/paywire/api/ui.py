"""GET /: the terminal UI's page, and its scripts and styles under /ui/.

The UI talks to the gateway only through the public JSON API, like any other client.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api.assets import add_files
from paywire.api.routes import PUBLIC, Reply, Routes
from paywire.ui import DIR as UI_DIR

routes = Routes("ui")

STATIC_PREFIX = "/ui"
# What the pages load from the UI's own directory: its scripts and styles, not its Python.
_ASSET_SUFFIXES = (".js", ".css")


@routes.get(
    "/",
    summary="Terminal UI",
    roles=PUBLIC,
    replies={200: Reply("The terminal page", None, "text/html")},
    documented=False,
)
async def terminal_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(UI_DIR / "index.html")


def add_static(app: web.Application) -> None:
    names = sorted(p.name for p in UI_DIR.iterdir() if p.suffix in _ASSET_SUFFIXES)
    add_files(app, STATIC_PREFIX, UI_DIR, names)
