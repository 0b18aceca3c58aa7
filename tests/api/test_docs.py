"""The OpenAPI document is generated from the route registry, valid, and served with Swagger UI
from the gateway itself."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from paywire.api import create_app
from paywire.api.app import endpoints
from tests.fixtures.app import Serve


@pytest.fixture
async def client(serve: Serve, settings, unreachable_pool):
    return await serve(create_app(settings, unreachable_pool))


async def test_document_is_valid_openapi_3(client) -> None:
    response = await client.get("/api-docs/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.0")
    validate(document)


async def test_document_lists_every_registered_endpoint_with_its_roles(client) -> None:
    document = await (await client.get("/api-docs/openapi.json")).json()
    for endpoint in endpoints():
        if not endpoint.documented:
            continue
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        # Every request passes the Host check.
        assert "421" in operation["responses"]
        if endpoint.roles is None:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"bearerAuth": []}]
            assert operation["x-roles"] == sorted(endpoint.roles)
            # Its token is looked up in the database, which may be away.
            assert {"401", "503"} <= set(operation["responses"])
        if endpoint.body is not None:
            assert set(operation["requestBody"]["content"]) == {"application/json"}
            assert {"413", "415"} <= set(operation["responses"])


async def test_every_api_route_of_the_router_is_documented(client) -> None:
    document = await (await client.get("/api-docs/openapi.json")).json()
    routed = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
    }
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert routed <= documented


async def test_docs_page_loads_only_local_assets(client) -> None:
    response = await client.get("/api-docs")
    assert response.status == 200
    html = await response.text()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        assert source.startswith("/") or source.startswith("data:"), source
        if source.startswith("/"):
            asset = await client.get(source)
            assert asset.status == 200, source
    assert "<script>" not in html
    assert "style=" not in html


async def test_terminal_page_and_its_scripts_are_served(client) -> None:
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert 'src="/ui/main.js"' in html
    assert "<script>" not in html
    for name in ("main.js", "api.js", "commands.js", "terminal.js", "table.js", "watch.js"):
        script = await client.get(f"/ui/{name}")
        assert script.status == 200, name
        assert "javascript" in script.headers["Content-Type"]
        assert "innerHTML" not in await script.text()


@pytest.mark.parametrize(
    "path",
    [
        "/ui/__init__.py",
        "/ui/index.html",
        "/ui/..%2Fapi%2Fapp.py",
        "/api-docs/assets/index.html",
        "/api-docs/assets/oauth2-redirect.html",
        "/api-docs/assets/swagger-ui.js.map",
    ],
)
async def test_only_the_files_the_pages_load_are_served(client, path: str) -> None:
    """Not the UI package's Python, not the Swagger bundle's own pages with inline scripts."""
    assert (await client.get(path)).status == 404
