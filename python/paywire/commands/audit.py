"""`paywire audit verify` checks the audit log's hash chain; `paywire audit export --date D`
writes one UTC day of it as CSV, with the hashes, so it can be verified outside paywire."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import uvloop

from paywire.commands import configuration
from paywire.commands.output import check_report_day, utc_day, write_report
from paywire.commands.progress import Progress
from paywire.config import Settings
from paywire.services import audit as service
from paywire.store.database import current_database


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="verify or export the audit log", description=__doc__
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help='check the hash chain; prints {"ok", "rows", "first_bad_id"}'
    )
    verify.set_defaults(handler=handle_verify)
    export = actions.add_parser("export", help="one day of the audit log as CSV")
    export.add_argument("--date", type=utc_day, required=True, help="YYYY-MM-DD (UTC)")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=handle_export)


def handle_verify(args: argparse.Namespace) -> int:
    return uvloop.run(verify(configuration.load(args)))


def handle_export(args: argparse.Namespace) -> int:
    check_report_day(args.date)
    settings = configuration.load(args)
    return write_report(args.output, lambda out: export(settings, args.date, out))


async def verify(settings: Settings) -> int:
    progress = Progress("verified", 0)
    async with current_database(settings) as db:
        result = await service.verify(db.pool, progress.update)
    progress.close()
    print(orjson.dumps(result.as_dict()).decode())
    return 0 if result.ok else 1


async def export(settings: Settings, day: date, out: BinaryIO) -> int:
    async with current_database(settings) as db:
        rows = await service.export_csv(db.pool, day, out)
    print(f"exported {rows} audit rows of {day.isoformat()}", file=sys.stderr)
    return 0
