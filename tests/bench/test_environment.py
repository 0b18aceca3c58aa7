"""What a self-contained bench run stands on: the pipeline logs in as `serve` does."""

from __future__ import annotations

from paywire.bench.environment import bench_environment
from paywire.config import load_settings
from paywire.store.migrator import GATEWAY_ROLE


async def test_the_pipeline_runs_as_the_gateway_role_and_the_set_up_as_the_owner() -> None:
    """A bench that ran its pipeline as the embedded server's superuser measured statements
    no grant held, and a missing grant would only have shown in `serve`."""
    # Its own embedded server and receiver, under a directory of its own.
    settings = load_settings(environ={})
    async with bench_environment(settings, receiver=None, receiver_ca=None) as bench:
        assert await bench.db.fetchval("SELECT current_user") == GATEWAY_ROLE
        assert await bench.owner.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
