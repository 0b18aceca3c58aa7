"""Cross-cutting behaviour: request ids, the error body, body limit, timing, security headers."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from paywire.api import create_app
from paywire.api.middlewares import UNMATCHED_ROUTE
from tests.fixtures.app import Serve
from tests.fixtures.metrics import metric


@pytest.fixture
async def client(serve: Serve, settings, unreachable_pool):
    app = create_app(settings, unreachable_pool)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("db password is hunter2")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_get("/test/boom", boom)
    app.router.add_post("/test/echo", echo)
    return await serve(app)


async def test_every_response_carries_a_request_id(client) -> None:
    for path in ("/health", "/nowhere", "/", "/api-docs/openapi.json", "/test/boom"):
        response = await client.get(path)
        assert len(response.headers["X-Request-Id"]) >= 16, path


async def test_a_sane_incoming_request_id_is_kept(client) -> None:
    response = await client.get("/nowhere", headers={"X-Request-Id": "lb-7f3a.19:2"})
    assert response.headers["X-Request-Id"] == "lb-7f3a.19:2"
    assert (await response.json())["request_id"] == "lb-7f3a.19:2"


@pytest.mark.parametrize("incoming", ["has space", "x" * 129, 'quote"d', "semi;colon", ""])
async def test_an_insane_incoming_request_id_is_replaced(client, incoming: str) -> None:
    response = await client.get("/nowhere", headers={"X-Request-Id": incoming})
    assert response.headers["X-Request-Id"] != incoming
    assert len(response.headers["X-Request-Id"]) == 32


async def test_unknown_route_is_a_json_404(client) -> None:
    response = await client.get("/nowhere")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "NOT_FOUND"
    assert body["error"]["details"] == []
    assert body["request_id"] == response.headers["X-Request-Id"]


async def test_wrong_method_is_a_json_405(client) -> None:
    response = await client.delete("/health")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


async def test_unexpected_error_is_a_generic_500_and_the_detail_is_logged(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="paywire.api"):
        response = await client.get("/test/boom")
    assert response.status == 500
    body = await response.json()
    assert body["error"]["code"] == "INTERNAL"
    assert "hunter2" not in await response.text()
    request_id = response.headers["X-Request-Id"]
    assert body["request_id"] == request_id
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_announced_body_over_64_kib_is_413(client) -> None:
    response = await client.post("/test/echo", data=b"x" * (64 * 1024 + 1))
    assert response.status == 413
    body = await response.json()
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.headers["X-Request-Id"] == body["request_id"]


async def test_streamed_body_over_64_kib_is_413(client) -> None:
    async def chunks():
        for _ in range(70):
            yield b"x" * 1024

    response = await client.post("/test/echo", data=chunks())
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_body_of_exactly_64_kib_is_accepted(client) -> None:
    response = await client.post("/test/echo", data=b"x" * (64 * 1024))
    assert response.status == 200


async def test_security_headers(client) -> None:
    page = await client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    api = await client.get("/health")
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    for response in (page, api):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["Server"] == "paywire"  # no versions to look up
    assert api.headers["Cache-Control"] == "no-store"
    missing = await client.get("/api/v1/nothing")
    assert missing.headers["Cache-Control"] == "no-store"
    assert missing.headers["X-Content-Type-Options"] == "nosniff"


def _count(method: str, route: str, status: str) -> float:
    return metric("http_request_duration_seconds_count", method=method, route=route, status=status)


async def test_timing_uses_the_route_template_not_the_raw_path(client) -> None:
    before_unmatched = _count("GET", UNMATCHED_ROUTE, "404")
    before_health = _count("GET", "/health", "503")
    await client.get("/no/such/path/123")
    await client.get("/health")
    assert _count("GET", UNMATCHED_ROUTE, "404") == before_unmatched + 1
    assert _count("GET", "/health", "503") == before_health + 1
    assert (
        REGISTRY.get_sample_value(
            "http_request_duration_seconds_count",
            {"method": "GET", "route": "/no/such/path/123", "status": "404"},
        )
        is None
    )


async def test_a_host_name_the_gateway_is_not_is_refused_before_anything_runs(
    serve: Serve, settings, world
) -> None:
    """DNS rebinding: a page whose own name resolves to the gateway is same-origin with it. Its
    requests carry that name as Host, so they are refused (421) before a login is counted;
    IP addresses, localhost and the names of PAYWIRE_ALLOWED_HOSTS are answered."""
    allowed = replace(settings, allowed_hosts=("paywire.example",))
    client = await serve(create_app(allowed, world.pool))
    login = {"username": "admin", "password": "not the password"}
    for host in ("evil.example:3000", "evil.example", "PAYWIRE.EXAMPLE.evil.example"):
        refused = await client.post("/api/v1/auth/login", json=login, headers={"Host": host})
        assert refused.status == 421, host
        body = await refused.json()
        assert body["error"]["code"] == "MISDIRECTED_REQUEST"
        assert "PAYWIRE_ALLOWED_HOSTS" in body["error"]["message"]
    assert await world.pool.fetchval("SELECT count(*) FROM login_throttle") == 0
    for host in ("127.0.0.1:3000", "10.1.2.3", "[::1]:3000", "localhost:3000", "Paywire.Example."):
        answered = await client.get("/health/live", headers={"Host": host})
        assert answered.status == 200, host
