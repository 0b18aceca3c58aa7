"""Log lines written while serving a request carry its request id; secrets in it never show."""

from __future__ import annotations

import io
import json
import logging

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from paywire.api import create_app
from paywire.config import Settings
from paywire.observability.logging import JsonFormatter
from tests.fixtures.tls import REFUSING_PORT


async def test_request_lines_carry_the_request_id_and_no_secrets(tmp_path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("paywire")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    pool = await asyncpg.create_pool(
        f"postgresql://u:db-secret@127.0.0.1:{REFUSING_PORT}/none", min_size=0
    )
    app = create_app(Settings(log_dir=tmp_path), pool)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            response = await client.post(
                "/api/v1/auth/login",
                json={"username": "maker", "password": "hunter2-password"},
                headers={"X-Request-Id": "req-log-1", "Authorization": "Bearer tok-secret-9"},
            )
            assert response.status == 503  # the database is unreachable: retry later
            # Probes and scrapes that answer stay out of the INFO log; a failing probe does not.
            same = {"X-Request-Id": "req-log-1"}
            assert (await client.get("/health/live", headers=same)).status == 200
            assert (await client.get("/metrics", headers=same)).status == 200
            assert (await client.get("/health", headers=same)).status == 503
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)  # left at INFO, it would hide DEBUG lines from later tests
        await pool.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines
    assert {line["request_id"] for line in lines} == {"req-log-1"}
    assert any(line["message"] == "POST /api/v1/auth/login 503" for line in lines)
    requests = [line["message"] for line in lines if line["logger"] == "paywire.api"]
    assert "GET /health 503" in requests
    assert not [m for m in requests if m.startswith(("GET /health/live", "GET /metrics"))]
    text = stream.getvalue()
    for secret in ("hunter2-password", "tok-secret-9", "db-secret"):
        assert secret not in text
