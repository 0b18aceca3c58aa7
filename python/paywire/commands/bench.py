"""`paywire bench`: end-to-end load, self-contained or against a database and receiver of yours.

Prints payments, seconds, payments/s, approval → settlement latency percentiles, CPU seconds per
1,000 payments and peak RSS (of the timed part, not the set-up before it); `--json` prints the
same as one JSON object per mode.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import uvloop

from paywire.bench import dbprofile
from paywire.bench.environment import bench_environment
from paywire.bench.modes import Result, create_payments, run_pipeline, run_transport
from paywire.commands import configuration
from paywire.config import Settings, database_url_problem
from paywire.errors import ConfigError
from paywire.receiver.config import check_port

MODES = ("e2e", "transport", "db")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench", help="end-to-end load test", description=__doc__
    )
    parser.add_argument(
        "--mode",
        choices=(*MODES, "all"),
        default="e2e",
        help="e2e: the whole pipeline; db: the network replaced by immediate answers; "
        "transport: messages through the TLS pool only; all: the three, side by side",
    )
    parser.add_argument("--payments", type=int, default=10_000, metavar="N")
    parser.add_argument(
        "--rate", type=float, metavar="R", help="offered load per second (default: flat out)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per mode")
    parser.add_argument(
        "--db-profile",
        action="store_true",
        help="after each mode, the statements that took the database's time "
        "(pg_stat_statements; on the embedded server, those run by triggers too)",
    )
    parser.add_argument(
        "--database-url",
        help="use this PostgreSQL instead of an embedded one (DATABASE_URL is not used: the run "
        "adds bench operators, an account and N payments to the database, so give it one of its "
        "own: a run cut short leaves payments a gateway started on it would send); leave the "
        "password out of it, as every account on the machine can read a command line, and set "
        "PGPASSWORD",
    )
    parser.add_argument(
        "--receiver",
        metavar="HOST:PORT",
        help="use this receiver; an IPv6 address in brackets, e.g. [::1]:7000",
    )
    parser.add_argument("--receiver-ca", type=Path, help="CA file that verifies --receiver")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.payments < 1:
        raise ConfigError("--payments must be at least 1")
    if args.rate is not None and not math.isfinite(args.rate):
        raise ConfigError("--rate must be a finite number")
    if args.rate is not None and args.rate <= 0:
        raise ConfigError("--rate must be positive")
    receiver = None if args.receiver is None else receiver_address(args.receiver)
    if args.receiver_ca is not None and receiver is None:
        # Alone it was ignored: the run's own receiver is verified by the CA made for it.
        raise ConfigError("--receiver-ca goes with --receiver: it verifies that receiver")
    problem = args.database_url and database_url_problem(args.database_url)
    if problem:
        raise ConfigError(f"--database-url: {problem}")
    if args.database_url is not None and _holds_password(args.database_url):
        print(
            "paywire: warning: the password in --database-url is visible to every account on "
            "this machine in the process list; leave it out of the URL and set PGPASSWORD instead",
            file=sys.stderr,
        )
    # The database is the one named here or an embedded one, never DATABASE_URL: the run fills
    # it with operators, an account that may overdraw and N payments, and the environment a
    # bench runs in is often one set up for a gateway.
    settings = configuration.load(args, unused={"database_url"}).replaced(
        database_url=args.database_url
    )
    modes = MODES if args.mode == "all" else (args.mode,)
    results = uvloop.run(run(settings, args, modes, receiver))
    for result in results:
        if args.json:
            print(orjson.dumps(result.as_dict()).decode())
    if not args.json:
        print(table(results))
    return 0


def receiver_address(text: str) -> tuple[str, int]:
    """--receiver's HOST and PORT, refused here rather than found out once the run's database
    is set up. An IPv6 address goes in brackets, as in a URL: `::1:7000` may be ::1 port 7000
    or ::1:7000 with no port. Port 0 passes `check_port`, being "any free port" to a server
    that listens, but no receiver is there to dial."""
    bracketed = text.startswith("[")
    if bracketed:
        host, bracket, port = text[1:].partition("]:")
        host = host if bracket and _is_ipv6(host) else ""
    else:
        host, _, port = text.rpartition(":")  # no colon: no host
        if _is_ipv6(host) or _is_ipv6(text):  # ::1:7000, or ::1 without a port
            raise ConfigError(
                f"--receiver {text}: put an IPv6 address in brackets, e.g. [::1]:7000"
            )
        if ":" in host or "/" in host:  # a URL pasted in
            host = ""
    if not (host and port.isascii() and port.isdigit()):
        form = "[IPV6]:PORT, e.g. [::1]:7000" if bracketed else "HOST:PORT, e.g. 127.0.0.1:7000"
        raise ConfigError(f"--receiver {text}: write {form}")
    if int(port) == 0:
        raise ConfigError(f"--receiver {text}: port 0 cannot be dialled; give the receiver's port")
    try:
        check_port(int(port))
    except ConfigError as exc:
        raise ConfigError(f"--receiver {text}: {exc.message}") from None
    return host, int(port)


def _holds_password(url: str) -> bool:
    """Whether a PostgreSQL URL carries a password, before the host or as `?password=` (the
    driver takes either). One urllib cannot read is the driver's to refuse, without showing it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.password) or "password" in parse_qs(parts.query)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


async def run(
    settings: Settings,
    args: argparse.Namespace,
    modes: tuple[str, ...],
    receiver: tuple[str, int] | None,
) -> list[Result]:
    results = []
    async with bench_environment(
        settings,
        receiver=receiver,
        receiver_ca=args.receiver_ca,
        embedded_settings=dbprofile.SERVER_SETTINGS if args.db_profile else None,
    ) as bench:
        for mode in modes:
            print(f"bench: {mode}, {args.payments:,} payments", file=sys.stderr)
            ids = [] if mode == "transport" else await create_payments(bench, args.payments)
            profiling = args.db_profile and await dbprofile.reset(bench.owner)
            if mode == "transport":
                results.append(await run_transport(bench, args.payments, args.rate))
            else:
                results.append(await run_pipeline(bench, ids, args.rate, immediate=mode == "db"))
            if profiling:
                profile = await dbprofile.report(bench.owner)
                print(f"bench: {mode}: database time by statement\n{profile}", file=sys.stderr)
    return results


LABELS = (
    ("payments", "payments"),
    ("seconds", "seconds"),
    ("payments/s", "payments_per_s"),
    ("p50 ms", "p50"),
    ("p95 ms", "p95"),
    ("p99 ms", "p99"),
    ("CPU s / 1,000", "cpu_s_per_1000"),
    ("peak RSS MB", "peak_rss_mb"),
)


def table(results: list[Result]) -> str:
    """The results side by side, one column per mode."""
    flat = [{**(d := r.as_dict()), **d["latency_ms"]} for r in results]
    rows = [["", *(r.mode for r in results)]]
    rows += [[label, *(f"{f[key]:,}" for f in flat)] for label, key in LABELS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for label, *cells in rows:
        padded = (cell.rjust(width) for cell, width in zip(cells, widths[1:], strict=True))
        lines.append("  ".join([label.ljust(widths[0]), *padded]))
    return "\n".join(lines)
