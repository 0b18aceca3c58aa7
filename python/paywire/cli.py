"""The `paywire` command: parses arguments and hands over to one module per sub-command.

Each module in `paywire.commands` contributes its sub-parser through `register`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from paywire import runtime
from paywire.errors import PaywireError, ValidationError

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


_CONFIG_HELP = "TOML file with settings (lower-case keys without PAYWIRE_); the environment wins"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paywire",
        description="Payment transmission gateway: ISO 20022 pacs.008 over pipelined TLS.",
    )
    parser.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"paywire.commands.{name}").register(subparsers)
    return parser


def _config_first(argv: Sequence[str]) -> list[str]:
    """The line with `--config FILE` moved before the command, wherever it was given: operators
    write `paywire serve --config x.toml` as often as `paywire --config x.toml serve`."""
    args, moved = list(argv), []
    for index, arg in enumerate(args):
        if arg == "--config" and index + 1 < len(args):
            moved = args[index : index + 2]
            del args[index : index + 2]
            break
        if arg.startswith("--config="):
            moved = [args.pop(index)]
            break
    return moved + args


# Exit codes of a command stopped by a signal, as a shell reports them (128 + the signal).
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated:
    """Takes SIGTERM (what systemd, Kubernetes, `timeout` and CI send) as Ctrl-C, whatever the
    command is doing: without it the default action killed the process on the spot, and the
    PostgreSQL server and receiver it had started ran on for nobody. `serve` and `receiver`
    put their own handler in place while they run, which drains first."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: object) -> None:
        self.received = True
        signal.raise_signal(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    terminated = _Terminated()
    signal.signal(signal.SIGTERM, terminated)
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        # Ctrl-C, whenever it comes: while a command runs, or while the commands' modules
        # are still being imported (most of a second), which printed a traceback.
        return EXIT_TERMINATED if terminated.received else EXIT_INTERRUPTED


def _run(argv: Sequence[str]) -> int:
    parser = build_parser()
    if argv and argv[-1] == "--config":
        # Left where it is, a sub-command's parser would call it an unrecognised argument.
        parser.error("argument --config: expected one argument (a TOML file)")
    args = parser.parse_args(_config_first(argv))
    runtime.tune_gc()
    try:
        code: int = args.handler(args)
    except PaywireError as exc:
        print("\n".join(refusal(exc)), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read the output went away (`| head`): said in a line, not a traceback, and
        # the rest dropped, or Python's own flush at exit would fail the same way again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("paywire: the output was closed before all of it was written", file=sys.stderr)
        return 2
    except Exception as exc:
        # Not what the command found (exit 1: a break, a broken chain), so exit 2 like every
        # failure to do the job; the traceback is for a bug report.
        traceback.print_exc()
        print(f"paywire: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return code


def refusal(exc: PaywireError) -> list[str]:
    """The lines a command's refusal prints: its message, then for a ValidationError each field
    with its problem, one a line. The message alone ("invalid seed file") does not say what to
    change."""
    lines = [f"paywire: {exc.message}"]
    if isinstance(exc, ValidationError):
        for detail in exc.details:
            field, message = detail.get("field"), detail.get("message")
            lines.append(f"  {field}: {message}" if field else f"  {message}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
