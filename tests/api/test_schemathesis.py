"""Property-based conformance: schemathesis generates requests from /api-docs/openapi.json and
checks that no answer is a 5xx or strays from the document (status, content type, schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from paywire.api import create_app
from paywire.config import Settings
from paywire.store.database import create_pool
from paywire.store.tx import Pool
from paywire.transport.pool import ConnectionPool
from tests.api.live import LiveServer
from tests.api.world import DISCARD_PORT, open_session, seed
from tests.fixtures.tls import gateway_settings

MAX_EXAMPLES = 15
LOGOUT = "POST /api/v1/auth/logout"
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def live_gateway(postgres, migrated_template, tls_files, tmp_path_factory) -> Iterator[LiveServer]:
    """The gateway on a seeded database, with a real TLS pool whose receiver never answers (so
    the admin endpoints have a breaker to show and reset)."""
    server = LiveServer()
    databases: list[str] = []
    pools: list[Pool] = []
    transports: list[ConnectionPool] = []

    async def build():
        databases.append(await postgres.create_database(migrated_template))
        pool = await create_pool(
            postgres.dsn(databases[0]), min_size=1, max_size=4, command_timeout=30
        )
        pools.append(pool)
        seeded = await seed(pool, ["maker", "checker", "everything"])
        server.token = await open_session(pool, seeded["everything"])
        transport = ConnectionPool(
            gateway_settings(tls_files, DISCARD_PORT, pool_size=1), backoff_max_s=0.5
        )
        await transport.start()
        transports.append(transport)
        settings = Settings(log_dir=tmp_path_factory.mktemp("logs"))
        return create_app(settings, pool, transport=transport)

    async def close() -> None:
        for transport in transports:
            await transport.close(deadline_s=1)
        for pool in pools:
            await pool.close()
        for name in databases:
            await postgres.drop_database(name)

    server.start(build)
    yield server
    server.stop(close)


def test_api_conforms_to_its_document(live_gateway: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live_gateway.url}/api-docs/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    called: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            # Logging out would revoke the token every other operation runs with.
            signed = case.operation.label != LOGOUT
            headers = {"Authorization": f"Bearer {live_gateway.token}"} if signed else {}
            case.call_and_validate(checks=CHECKS, headers=headers)
            called.append(case.operation.label)

        conforms()
    assert set(called) == {operation.label for operation in operations}
