"""`paywire migrate`: bring the schema to the latest version, roll one back, or show status.

Works on DATABASE_URL or the embedded server of PAYWIRE_DATA_DIR, joining it if one is running.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvloop

from paywire.commands import configuration
from paywire.config import Settings
from paywire.store import migrator
from paywire.store.database import database

# `migrate status` as a check for scripts: 0 current; PENDING while migrations are pending, a
# schema `serve` refuses and `paywire migrate` mends; 1 when an applied file changed or the
# database is newer than this paywire, which `migrate` cannot mend; 2, as every command, when it
# could not look.
PENDING = 3


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "migrate",
        help="apply database migrations; `rollback` undoes the latest, `status` lists them",
        description="Schema migrations shipped with paywire (migrations/NNNN_name.up.sql and "
        ".down.sql). Each step runs in its own transaction under an advisory lock; a migration "
        "file changed after it was applied is refused.",
        epilog=f"`status` exits 0 when the schema is current, {PENDING} when migrations are "
        "pending (run `paywire migrate`; `serve` refuses the schema until then), 1 when an "
        "applied file changed or the database is newer than this paywire, 2 when it could not "
        "look (no database).",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("up", "rollback", "status"),
        default="up",
        help="up (default): apply all pending; rollback: undo the latest; status: list them "
        "(exit status below)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    return uvloop.run(run(settings, args.action))


async def run(settings: Settings, action: str) -> int:
    migrations = migrator.load()
    async with database(settings, bounded=False) as db, db.pool.acquire() as conn:
        if action == "status":
            return _print_status(await migrator.status(conn, migrations))
        if action == "rollback":
            undone = await migrator.rollback(conn, migrations, _waiting)
            print(f"rolled back {undone.label}" if undone else "nothing to roll back")
            return 0
        done = await migrator.upgrade(
            conn, migrations, lambda m: print(f"applied {m.label}", flush=True), _waiting
        )
        verb = "migrated" if done else "up to date"
        print(f"database {verb} at {migrations[-1].label}")
        return 0


def _print_status(states: list[migrator.MigrationState]) -> int:
    name_width = max(len(state.name) for state in states)
    state_width = max(len(state.state) for state in states)
    for state in states:
        applied = state.applied_at.isoformat(timespec="seconds") if state.applied_at else ""
        print(
            f"{state.version:04d}  {state.name:<{name_width}}  {state.state:<{state_width}}  "
            f"{applied}".rstrip()
        )
    if any(state.problem is not None for state in states):
        return 1
    return PENDING if any(state.state == "pending" for state in states) else 0


def _waiting() -> None:
    print(
        "another `paywire migrate` holds the migration lock (an init container, a colleague?); "
        "waiting for it to finish",
        flush=True,
    )
