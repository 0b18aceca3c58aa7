"""`paywire recon daily --date D`: the reconciliation report of one UTC day, as JSON (the API's
representation) or, with `--format csv`, the unmatched items as CSV. Exit code 0 when every
payment matched, 1 when there are unmatched items, 2 when the report could not be made."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from paywire.commands import configuration
from paywire.commands.output import utc_day, write_report
from paywire.config import Settings
from paywire.services import reconciliation as service
from paywire.store.database import current_database


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "recon",
        help="reconcile a day's payments against the ledger and the receiver's answers",
        description=__doc__,
    )
    actions = parser.add_subparsers(dest="recon_action", metavar="ACTION", required=True)
    daily = actions.add_parser("daily", help="the report of one UTC day")
    daily.add_argument("--date", type=utc_day, required=True, help="YYYY-MM-DD (UTC)")
    daily.add_argument(
        "--format", choices=("json", "csv"), default="json", help="json (default) or csv"
    )
    daily.add_argument("--output", type=Path, help="file to write (default: standard output)")
    daily.set_defaults(handler=handle_daily)


def handle_daily(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    return write_report(args.output, lambda out: daily(settings, args.date, args.format, out))


async def daily(settings: Settings, day: date, form: str, out: BinaryIO) -> int:
    async with current_database(settings) as db:
        window = service.answer_window(settings)
        async with service.daily(db.pool, day, answer_window=window) as report:
            async for chunk in report.csv() if form == "csv" else report.json():
                out.write(chunk)
    if form == "json":
        out.write(b"\n")
    unmatched = report.unmatched or 0
    print(f"{day.isoformat()}: {unmatched} unmatched item(s)", file=sys.stderr)
    return 1 if unmatched else 0
