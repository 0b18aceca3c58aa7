"""deploy/Dockerfile and .dockerignore: linted by hadolint, and the rules the image must keep.

No Docker engine runs here, so the image is not built; these checks read the files.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from paywire.config import SETTING_FIELDS
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
    assert copied == [
        "deploy/requirements.lock /tmp/requirements.lock",
        f"--from={build_name} /dist/ /tmp/dist/",
    ], "only the lock and the wheel come in: nothing of the build stage's but the wheel"


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
    settings = {f"PAYWIRE_{field.name.upper()}" for field in SETTING_FIELDS}
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
        "deploy/requirements.lock",
        "deploy/maturin.lock",
    }
    assert "**/*.so" in lines, "a locally built extension must not reach the wheel"
    # Every source the Dockerfile copies from the context is admitted.
    for name, args in instructions():
        if name == "COPY" and not args.startswith("--from="):
            *sources, _dest = args.split()
            for source in sources:
                assert any(
                    source.rstrip("/") == a or source.startswith(a + "/") for a in allowed
                ), source


def _locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of each requirement in a pip-compile lock."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pin = re.match(r"([A-Za-z0-9._-]+)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin[1])
            pins[name] = (pin[2], 0)
        elif line.startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
        else:
            raise AssertionError(f"{path.name}: unexpected line {line!r}")
    return pins


def test_the_image_installs_its_dependencies_from_a_lock_with_hashes() -> None:
    """What the image runs is what was locked and reviewed, byte for byte: every runtime
    dependency in pyproject.toml is pinned in deploy/requirements.lock within its range, every
    pin carries hashes, and the wheel itself brings in nothing unlocked."""
    locked = _locked(DEPLOY / "requirements.lock")
    assert all(hashes for _version, hashes in locked.values()), "a pin without --hash"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in map(Requirement, project["dependencies"]):
        name = canonicalize_name(dependency.name)
        assert name in locked, f"{name} is not locked: run `make lock`"
        assert dependency.specifier.contains(locked[name][0]), (
            f"{name}=={locked[name][0]} is outside pyproject.toml's {dependency.specifier}: "
            "run `make lock`"
        )
    runtime = " ".join(args for name, args in stages()[1] if name == "RUN")
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock" in runtime
    assert "pip install --no-cache-dir --no-deps /tmp/dist/paywire-" in runtime
    assert "pip check" in runtime, "the locked set must satisfy the wheel's requirements"


def test_the_build_stage_runs_a_hash_locked_maturin() -> None:
    locked = _locked(DEPLOY / "maturin.lock")
    assert set(locked) == {"maturin"}
    (version, hashes) = locked["maturin"]
    assert hashes
    development = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    (wanted,) = [r for r in map(Requirement, development) if r.name == "maturin"]
    assert wanted.specifier.contains(version), "the image builds with a maturin the project allows"
    build = " ".join(args for name, args in stages()[0] if name == "RUN")
    assert "pip install --no-cache-dir --require-hashes -r /tmp/maturin.lock" in build
