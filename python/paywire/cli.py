"""The `paywire` command: parses arguments and hands over to one module per sub-command.

Each module in `paywire.commands` contributes its sub-parser through `register`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from paywire import runtime
from paywire.errors import PaywireError

# Sub-command modules, in the order `paywire --help` lists them.
COMMANDS: tuple[str, ...] = (
    "serve",
    "demo",
    "migrate",
    "seed",
    "receiver",
    "audit",
    "recon",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paywire",
        description="Payment transmission gateway: ISO 20022 pacs.008 over pipelined TLS.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML file with settings (lower-case keys without PAYWIRE_); the environment wins",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"paywire.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    runtime.tune_gc()
    try:
        code: int = args.handler(args)
    except PaywireError as exc:
        print(f"paywire: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
