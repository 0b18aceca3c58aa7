"""`paywire recon daily --date D`: the reconciliation report of one UTC day, as JSON (the API's
representation) or, with `--format csv`, the unmatched items as CSV. Exit code 0 when every
payment matched, 1 when there are unmatched items, 2 when the report could not be made.

`paywire recon balances`: every account's balance against its opening balance and its ledger
entries, as JSON; exit code 0 when every balance is explained, 1 when one is not."""

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
    balances = actions.add_parser(
        "balances",
        help="every account's balance against its opening balance and ledger entries",
        description="Reads every ledger entry: a daily check, not a frequent one.",
    )
    balances.set_defaults(handler=handle_balances)


def handle_daily(args: argparse.Namespace) -> int:
    check_report_day(args.date)
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


def handle_balances(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    return uvloop.run(balances(settings))


async def balances(settings: Settings) -> int:
    async with current_database(settings) as db:
        accounts, breaks = await service.balances(db.pool)
    report = {"accounts": accounts, "out_of_balance": [b.as_dict() for b in breaks]}
    print(orjson.dumps(report).decode())
    print(f"{accounts} account(s), {len(breaks)} out of balance", file=sys.stderr)
    return 1 if breaks else 0
