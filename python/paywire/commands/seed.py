"""`paywire seed`: the demo operators and accounts, or exactly those of `--file seed.json`.

Generated demo passwords are printed once, when the operator is created; nothing prints them again.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

import orjson
import uvloop

from paywire.commands import configuration
from paywire.config import Settings
from paywire.errors import ConfigError
from paywire.services import seeding
from paywire.shared_state import SharedState
from paywire.store.database import current_database


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "seed",
        help="create the demo operators and ledger accounts, or those of --file",
        description="Without options: demo operators (with generated passwords, printed once) "
        "and demo ledger accounts. With --file: exactly the operators and accounts of the file, "
        '{"operators": [{"username", "password", "roles"}], "accounts": [{"account", "name", '
        '"currency", "balance", "overdraft"}]}. Re-running changes nothing and says so.',
    )
    parser.add_argument("--file", type=Path, help="seed file (JSON)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    data = _read(args.file) if args.file is not None else None
    # A refused file's problems are printed field by field, with exit 2, by the CLI.
    return uvloop.run(run(settings, data, from_file=args.file is not None))


async def run(settings: Settings, data: object, *, from_file: bool) -> int:
    async with current_database(settings) as db:
        if from_file:
            shared = SharedState.from_settings(settings, db.pool)
            try:
                cache = shared.sessions if shared is not None else None
                report = await seeding.seed_file(db.pool, data, cache=cache)
            finally:
                if shared is not None:
                    await shared.close()
        else:
            own = await seeding.operators_of_its_own(db.pool)
            if own:
                raise ConfigError(
                    f"this database has operators of its own ({', '.join(own)}): `paywire seed` "
                    "without --file adds the demo operators, an ADMIN among them, and demo "
                    "balances; seed it with `paywire seed --file seed.json`"
                )
            await seeding.seed_demo(db.pool, show=_show)
            return 0
    _show(report)
    return 0


def _show(report: seeding.SeedReport) -> None:
    """What the seed did; flushed, so that output that cannot be written fails the seed of the
    demo before it commits (`seeding.seed_demo` says why)."""
    for label in report.created:
        print(f"created   {label}")
    for label in report.updated:
        print(f"updated   {label}")
    if report.passwords:
        print("\nPasswords of the operators created now (shown this once, keep them safe):")
        width = max(len(name) for name in report.passwords)
        for name, password in report.passwords.items():
            print(f"  {name:<{width}}  {password}")
    if report.must_choose_password:
        print(
            f"\n{', '.join(report.must_choose_password)}: the file's password is only for the"
            " first sign-in, which asks for one of their own (passwd in the terminal)"
        )
    if not report.changed:
        print(f"nothing changed: {len(report.unchanged)} operators and accounts already as seeded")
    sys.stdout.flush()


def _read(path: Path) -> object:
    try:
        raw = path.read_bytes()
        data = orjson.loads(raw)
        # A JSON reader keeps the last of a key given twice in one object, without a word: two
        # files pasted together would seed the second one's operators alone, and exit 0.
        json.loads(raw, object_pairs_hook=functools.partial(_no_key_twice, path))
    except OSError as exc:
        raise ConfigError(f"cannot read the seed file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"the seed file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        # orjson reads 1,024 levels, the standard library's reader fewer.
        raise ConfigError(f"the seed file {path} is nested too deep to be a seed file") from None
    return data


def _no_key_twice(path: Path, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            named = dict(pairs)
            whose = next(
                (f", the one of {k} {named[k]!r}" for k in ("username", "account") if k in named),
                "",
            )
            raise ConfigError(
                f"the seed file {path} gives {key!r} twice in one object{whose}; a JSON reader"
                " would keep the last alone: give it once"
            )
    return dict(pairs)
