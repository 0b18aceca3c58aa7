"""deploy/Dockerfile and .dockerignore: linted by hadolint, and the rules the image must keep.

No Docker engine runs here, so the image is not built; these checks read the files.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
from pathlib import Path

from paywire.config import Settings
from tests.deploy.paths import DEPLOY, ROOT, tool

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, FROM first."""
    out: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            out.append([])
        out[-1].append(instruction)
    return out


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_from_a_rust_image_to_a_slim_python_image_pinned_by_version() -> None:
    froms = [args.split() for name, args in instructions() if name == "FROM"]
    assert len(froms) == 2
    (build_image, _as, build_name), (runtime_image, _as2, _runtime) = froms
    assert re.fullmatch(r"rust:1\.\d+(\.\d+)?-slim-bookworm", build_image)
    assert runtime_image == "python:3.11-slim-bookworm"
    runtime = stages()[1]
    copied = [args for name, args in runtime if name == "COPY"]
    assert copied == [f"--from={build_name} /dist/ /tmp/dist/"], "only the wheel crosses over"


def test_the_rust_image_is_new_enough_for_every_locked_crate() -> None:
    image = next(args.split()[0] for name, args in instructions() if name == "FROM")
    version = tuple(int(p) for p in re.match(r"rust:(\d+)\.(\d+)", image).groups())
    metadata = subprocess.run(
        [
            tool("cargo"),
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
            str(ROOT / "rust" / "Cargo.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    needed = max(
        tuple(int(p) for p in package["rust_version"].split(".")[:2])
        for package in json.loads(metadata.stdout)["packages"]
        if package.get("rust_version")
    )
    assert version >= needed, f"{image} is older than the Rust {needed} that Cargo.lock needs"


def test_runs_as_a_fixed_unprivileged_user() -> None:
    runtime = stages()[1]
    users = [args for name, args in runtime if name == "USER"]
    assert users == ["10001:10001"]
    (useradd,) = [args for name, args in runtime if name == "RUN" and "useradd" in args]
    assert "--uid 10001" in useradd
    # Nothing runs as root after the switch.
    after_user = runtime[[name for name, _ in runtime].index("USER") :]
    assert not [args for name, args in after_user if name == "RUN"]


def test_entrypoint_is_exec_form_so_sigterm_reaches_paywire() -> None:
    entry = [args for name, args in instructions() if name == "ENTRYPOINT"]
    cmd = [args for name, args in instructions() if name == "CMD"]
    assert [json.loads(e) for e in entry] == [["paywire"]]
    assert [json.loads(c) for c in cmd] == [["serve"]]
    assert ("STOPSIGNAL", "SIGTERM") in instructions()


def test_healthcheck_asks_health_with_python_alone() -> None:
    (check,) = [args for name, args in instructions() if name == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--interval" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "/health" in argv[2]
    assert "urllib.request.urlopen" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for name, args in stages()[1]:
        if name == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                values[key] = value
    return values


def test_environment_listens_on_all_interfaces_with_default_malloc() -> None:
    values = env()
    # Inside the container: 127.0.0.1 would be unreachable from the published port and probes.
    assert values["PAYWIRE_HTTP_HOST"] == "0.0.0.0"  # noqa: S104
    # glibc's defaults measured faster than raised thresholds (benches/RESULTS.md, Transport).
    assert not [name for name in values if name.startswith("MALLOC_")]
    assert "3000" in [args for name, args in instructions() if name == "EXPOSE"]


def test_every_paywire_variable_is_a_real_setting() -> None:
    names = {name for name in env() if name.startswith("PAYWIRE_")}
    assert names, "the image sets no PAYWIRE_ variable"
    settings = {f"PAYWIRE_{field.name.upper()}" for field in dataclasses.fields(Settings)}
    assert names <= settings, sorted(names - settings)


def test_dockerignore_admits_only_the_wheel_sources() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: everything is ignored first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "rust/Cargo.toml",
        "rust/Cargo.lock",
        "rust/src",
        "python",
    }
    assert "**/*.so" in lines, "a locally built extension must not reach the wheel"
    # Every source the Dockerfile copies is admitted.
    for name, args in stages()[0]:
        if name == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                assert any(
                    source.rstrip("/") == a or source.startswith(a + "/") for a in allowed
                ), source
