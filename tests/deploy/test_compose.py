"""deploy/docker-compose.yml: valid against the compose-spec schema (as vendored by
check-jsonschema), and wired the way the runbook says: health-gated start order, secrets only
in uncommitted env files, ports on the host's loopback, time to drain."""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import re
import subprocess
import uuid
from urllib.parse import unquote, urlsplit

import asyncpg
import jsonschema
import pytest

from paywire.store import migrator
from paywire.store.embedded import binaries
from tests.deploy.paths import DEPLOY, PROMETHEUS_DIR, ROOT, load_yaml, stop_s
from tests.fixtures.postgres import PostgresServer

COMPOSE = DEPLOY / "docker-compose.yml"
# The init script runs a few psql statements: seconds, even on a loaded machine.
SCRIPT_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


def test_valid_against_the_compose_spec_schema(compose: dict) -> None:
    text = (
        importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text()
    )
    schema = json.loads(text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    assert errors == []


def test_services(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "receiver", "migrate", "gateway", "prometheus"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["profiles"] == ["redis"], "Redis is optional"
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", image), f"{name}: {image} is not pinned"


def test_the_gateway_starts_after_what_it_needs_is_healthy(compose: dict) -> None:
    services = compose["services"]
    needs = services["gateway"]["depends_on"]
    assert needs["postgres"]["condition"] == "service_healthy"
    assert needs["receiver"]["condition"] == "service_healthy"
    assert needs["migrate"]["condition"] == "service_completed_successfully"
    assert needs["redis"] == {"condition": "service_healthy", "required": False}
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("postgres", "redis", "receiver"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    # PostgreSQL is healthy once it takes TCP connections, as `migrate` makes them: on a fresh
    # volume the image's init server listens on its Unix socket only.
    assert "pg_isready -h 127.0.0.1 " in services["postgres"]["healthcheck"]["test"][-1]


def test_every_service_has_a_memory_and_cpu_limit(compose: dict) -> None:
    """None may take the host's memory from the others; the gateway's are the Kubernetes
    deployment's (1 GiB, two cores)."""
    for name, service in compose["services"].items():
        assert service.get("mem_limit"), f"{name} has no memory limit"
        assert service.get("cpus"), f"{name} has no CPU limit"
    gateway = compose["services"]["gateway"]
    assert (gateway["mem_limit"], gateway["cpus"]) == ("1g", 2)


def test_the_receiver_makes_the_certificates_the_gateway_trusts(compose: dict) -> None:
    receiver, gateway = compose["services"]["receiver"], compose["services"]["gateway"]
    args = receiver["command"]
    data_dir = args[args.index("--data-dir") + 1]
    assert f"certs:{data_dir}" in receiver["volumes"]
    assert f"certs:{data_dir}:ro" in gateway["volumes"]
    tls = f"{data_dir}/tls"
    env = gateway["environment"]
    assert env["PAYWIRE_RECEIVER_HOST"] == "receiver"
    assert env["PAYWIRE_RECEIVER_PORT"] == args[args.index("--port") + 1]
    # Files ensure_certificates writes (paywire.receiver.certs.CertificateFiles).
    assert env["PAYWIRE_RECEIVER_CA_FILE"] == f"{tls}/ca.pem"
    assert env["PAYWIRE_CLIENT_CERT_FILE"] == f"{tls}/gateway.pem"
    assert env["PAYWIRE_CLIENT_KEY_FILE"] == f"{tls}/gateway-key.pem"
    assert args[args.index("--client-ca") + 1] == f"{tls}/ca.pem"
    # The receiver's health check probes the port it listens on.
    assert f"'127.0.0.1', {env['PAYWIRE_RECEIVER_PORT']}" in receiver["healthcheck"]["test"][-1]


def test_secrets_come_from_env_files_that_are_never_committed(compose: dict) -> None:
    files = {
        entry["path"]
        for service in compose["services"].values()
        for entry in service.get("env_file", [])
    }
    assert files == {"postgres.env", "migrate.env", "paywire.env", "redis.env"}
    for name in files:
        assert (DEPLOY / f"{name}.example").is_file(), f"no template for {name}"
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(DEPLOY / name)], cwd=ROOT, check=False, timeout=30
        )
        assert ignored.returncode == 0, f"deploy/{name} is not ignored by git"
    gateway_env = compose["services"]["gateway"]["environment"]
    assert not {"DATABASE_URL", "REDIS_URL"} & set(gateway_env), "secrets inline"
    text = COMPOSE.read_text()
    assert "POSTGRES_PASSWORD" not in text
    assert "postgresql://" not in text


def env_template(name: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (DEPLOY / f"{name}.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_migrations_run_as_the_owner_and_the_gateway_as_its_own_login(compose: dict) -> None:
    postgres = env_template("postgres")
    owner = env_template("migrate")["DATABASE_URL"]
    gateway = env_template("paywire")["DATABASE_URL"]
    assert owner == f"postgresql://paywire:{postgres['PAYWIRE_DB_PASSWORD']}@postgres:5432/paywire"
    assert gateway == (
        f"postgresql://paywire_app:{postgres['PAYWIRE_GATEWAY_DB_PASSWORD']}@postgres:5432/paywire"
    )
    assert postgres["POSTGRES_USER"] not in {"paywire", "paywire_app"}
    services = compose["services"]
    assert [e["path"] for e in services["migrate"]["env_file"]] == ["migrate.env"]
    assert [e["path"] for e in services["gateway"]["env_file"]] == ["paywire.env"]
    assert "./postgres:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    assert (DEPLOY / "postgres" / "10-paywire-roles.sh").stat().st_mode & 0o111


def test_redis_wants_a_password_and_shares_a_network_with_the_gateway_only(
    compose: dict,
) -> None:
    services = compose["services"]
    assert "--requirepass" in services["redis"]["command"][-1]
    assert "REDISCLI_AUTH" in services["redis"]["healthcheck"]["test"][-1]
    assert compose["networks"]["sessions"] == {"internal": True}
    on_it = {name for name, s in services.items() if "sessions" in s.get("networks", [])}
    assert on_it == {"redis", "gateway"}
    assert services["redis"]["networks"] == ["sessions"]
    password = env_template("redis")["REDIS_PASSWORD"]
    example = (DEPLOY / "paywire.env.example").read_text()
    assert f"# REDIS_URL=redis://:{password}@redis:6379/0" in example


def test_what_runs_unprivileged_holds_no_capability_and_gains_none(compose: dict) -> None:
    """PostgreSQL's image switches to its own user at start, so it keeps what that needs.
    Redis's does so only for a command that is redis-server itself, and this one starts through
    sh (for its password): it must be given its user, or it runs as root."""
    for name in ("receiver", "migrate", "gateway", "prometheus", "redis"):
        service = compose["services"][name]
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
    assert compose["services"]["redis"]["user"] == "999:999"


def test_published_ports_bind_loopback_only(compose: dict) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_gateway_gets_time_to_drain(compose: dict) -> None:
    gateway = compose["services"]["gateway"]
    grace = re.fullmatch(r"(\d+)s", gateway["stop_grace_period"])
    assert int(grace.group(1)) > stop_s(), "SIGTERM drains for up to 30 s, then closes"
    assert gateway["read_only"] is True


def test_prometheus_mounts_the_rules_it_is_configured_with(compose: dict) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (paywire,) = [job for job in config["scrape_configs"] if job["job_name"] == "paywire"]
    assert paywire["static_configs"][0]["targets"] == ["gateway:3000"]
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file()


async def test_the_init_script_makes_an_owner_that_migrates_and_a_gateway_login_that_cannot(
    postgres: PostgresServer,
) -> None:
    """The script as the postgres image runs it (psql as the superuser), against a real server;
    then paywire's whole schema is migrated by the owner it made, which holds no superuser
    rights, and the gateway's login works on rows and can change nothing of the schema."""
    server = urlsplit(postgres.url)
    suffix = uuid.uuid4().hex[:8]
    role, database, password = f"paywire_{suffix}", f"paywire_{suffix}", f"pw-{suffix}"
    gateway, gateway_password = f"paywire_app_{suffix}", f"gw-{suffix}"
    env = {
        "PATH": f"{binaries()}:{os.environ['PATH']}",
        "POSTGRES_USER": server.username or "",
        "PGHOST": server.hostname or "",
        "PGPORT": str(server.port),
        "PGPASSWORD": unquote(server.password or ""),
        "PAYWIRE_DB_USER": role,
        "PAYWIRE_DB_NAME": database,
        "PAYWIRE_DB_PASSWORD": password,
        "PAYWIRE_GATEWAY_DB_USER": gateway,
        "PAYWIRE_GATEWAY_DB_PASSWORD": gateway_password,
    }
    script = DEPLOY / "postgres" / "10-paywire-roles.sh"
    where = f"{server.hostname}:{server.port}/{database}"
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            ["sh", str(script)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=SCRIPT_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr
        conn = await asyncpg.connect(f"postgresql://{role}:{password}@{where}")
        try:
            assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
            await migrator.upgrade(conn, migrator.load())
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("SET session_replication_role = replica")
        finally:
            await conn.close()
        conn = await asyncpg.connect(f"postgresql://{gateway}:{gateway_password}@{where}")
        try:
            await migrator.require_current(conn)
            assert not await migrator.owns_schema(conn)
            await conn.execute("DELETE FROM sessions")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                await conn.execute("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only")
        finally:
            await conn.close()
    finally:
        # Whatever the script made before it failed or timed out.
        await postgres.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await postgres.execute(f'DROP ROLE IF EXISTS "{gateway}"')
        await postgres.execute(f'DROP ROLE IF EXISTS "{role}"')
