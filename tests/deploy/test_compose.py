"""deploy/docker-compose.yml: valid against the compose-spec schema (as vendored by
check-jsonschema), and wired the way the runbook says: health-gated start order, secrets only
in uncommitted env files, ports on the host's loopback, time to drain."""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess

import jsonschema
import pytest

from tests.deploy.paths import DEPLOY, PROMETHEUS_DIR, ROOT, load_yaml

COMPOSE = DEPLOY / "docker-compose.yml"


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
    assert files == {"postgres.env", "paywire.env"}
    for name in files:
        assert (DEPLOY / f"{name}.example").is_file(), f"no template for {name}"
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(DEPLOY / name)], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"deploy/{name} is not ignored by git"
    gateway_env = compose["services"]["gateway"]["environment"]
    assert not {"DATABASE_URL", "REDIS_URL"} & set(gateway_env), "secrets inline"
    text = COMPOSE.read_text()
    assert "POSTGRES_PASSWORD" not in text
    assert "postgresql://" not in text


def test_env_templates_agree_on_the_database_credentials() -> None:
    postgres = dict(
        line.split("=", 1)
        for line in (DEPLOY / "postgres.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    paywire = (DEPLOY / "paywire.env.example").read_text()
    url = re.search(r"^DATABASE_URL=(\S+)$", paywire, re.M).group(1)
    assert url == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )


def test_published_ports_bind_loopback_only(compose: dict) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_gateway_gets_time_to_drain(compose: dict) -> None:
    gateway = compose["services"]["gateway"]
    grace = re.fullmatch(r"(\d+)s", gateway["stop_grace_period"])
    assert int(grace.group(1)) > 30, "SIGTERM drains for up to 30 s"
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
