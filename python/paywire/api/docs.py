"""GET /api-docs: the OpenAPI document and Swagger UI to explore it, with no internet needed.

Swagger UI's files come from the `swagger-ui-bundle` wheel and are served by the gateway; the
page's own script is a file too, so the strict CSP holds.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from paywire.api.assets import add_files
from paywire.api.keys import OPENAPI_DOCUMENT
from paywire.api.routes import PUBLIC, Reply, Routes
from paywire.ui import DIR as UI_DIR

routes = Routes("docs")

ASSETS_PREFIX = "/api-docs/assets"
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
# What api-docs.html loads; the bundle's own index.html and OAuth page are not served.
SWAGGER_UI_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")


@routes.get(
    "/api-docs",
    summary="Interactive API documentation",
    roles=PUBLIC,
    replies={200: Reply("Swagger UI page", None, "text/html")},
    documented=False,
)
async def api_docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(UI_DIR / "api-docs.html")


@routes.get(
    "/api-docs/openapi.json",
    summary="The OpenAPI 3 document of this API",
    roles=PUBLIC,
    replies={200: Reply("OpenAPI 3.0 document", {"type": "object"})},
    documented=False,
)
async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type="application/json")


def add_static(app: web.Application) -> None:
    add_files(app, ASSETS_PREFIX, SWAGGER_UI_DIR, SWAGGER_UI_ASSETS)
