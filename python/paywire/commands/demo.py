"""`paywire demo`: everything on loopback in one command, for a first look.

Embedded PostgreSQL, migrations, demo operators and accounts, a CA and certificates, a sanctions
list, the reference receiver in its own process and the gateway on http://127.0.0.1:3000. Ctrl-C
stops it all cleanly. The database and the passwords in PAYWIRE_DATA_DIR are reused by the next
run; the CA, the certificates and the sanctions list are made anew each run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import uvloop

from paywire.commands import configuration
from paywire.config import Settings
from paywire.errors import ConfigError, ValidationError, host_port
from paywire.gateway import run_gateway
from paywire.observability.logging import PlainFormatter, configure_logging
from paywire.receiver.certs import generate_certificates
from paywire.receiver.process import (
    LOOPBACK_RECEIVER_BIC,
    LOOPBACK_SENDER_BIC,
    receiver_process,
)
from paywire.services import seeding
from paywire.store import migrator
from paywire.store.database import database
from paywire.store.embedded import prepare_data_dir

CREDENTIALS_FILE = "demo-seed.json"
SANCTIONS_FILE = "demo-sanctions.csv"
# What the demo's screening holds, so that a first look shows a compliance officer's part too.
SANCTIONED_NAME = "Ivan Drago"
SANCTIONED_BIC = "BADBDEFF"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a complete demo on loopback (database, receiver, gateway)",
        description=__doc__,
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    # The demo's own lines are prose on stdout; a warning among them reads as one too.
    configure_logging(
        settings, level="WARNING", stream=sys.stderr, console_formatter=PlainFormatter("demo: ")
    )
    uvloop.run(run_demo(settings))
    return 0


async def run_demo(settings: Settings) -> None:
    # Its passwords, certificates and list are kept there whichever database it uses.
    prepare_data_dir(settings.data_dir)
    where = "of DATABASE_URL" if settings.database_url else f"in {settings.data_dir.resolve()}"
    step(f"preparing the database {where}")
    credentials = demo_credentials(settings.data_dir)
    async with database(settings, bounded=False) as db:
        own = await seeding.operators_of_its_own(db.pool)
        if own:
            raise ConfigError(
                f"this database has operators of its own ({', '.join(own)}): `paywire demo` "
                "would add the demo operators, an ADMIN among them, and demo balances, then run "
                "a gateway on it; unset DATABASE_URL to run the demo on an embedded server of "
                "its own in PAYWIRE_DATA_DIR"
            )
        async with db.pool.acquire() as conn:
            applied = await migrator.upgrade(conn, migrator.load())
        step(f"schema up to date ({len(applied)} migrations applied now)")
        await seeding.seed_file(db.pool, credentials, own_passwords=True)
        step("demo operators and accounts seeded")
    # SPEC §2: a freshly generated CA every run; only this run's receiver and gateway use it.
    certs = generate_certificates(settings.data_dir / "tls")
    step(f"a new CA and certificates in {certs.ca_file.parent}")
    sanctions = settings.sanctions_file or write_sanctions(settings.data_dir)
    step(f"screening against {sanctions}")
    async with receiver_process(
        "--cert", str(certs.cert_file),
        "--key", str(certs.key_file),
        "--log", str(settings.data_dir / "receiver.log"),
    ) as receiver:  # fmt: skip
        step(f"reference receiver listening on {host_port(receiver.host, receiver.port)}")
        gateway_settings = settings.replaced(
            receiver_host=receiver.host,
            receiver_port=receiver.port,
            receiver_server_name="localhost",
            receiver_ca_file=certs.ca_file,
            sender_bic=settings.sender_bic or LOOPBACK_SENDER_BIC,
            receiver_bic=settings.receiver_bic or LOOPBACK_RECEIVER_BIC,
            sanctions_file=sanctions,
        )
        demo_list = settings.sanctions_file is None
        await run_gateway(
            gateway_settings, on_ready=lambda url: print_welcome(url, credentials, demo_list)
        )
    step("stopped")


def demo_credentials(data_dir: Path) -> dict[str, Any]:
    """The demo seed with its generated passwords, kept in the data dir (mode 0600) so every
    `make demo` logs in with the same ones."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return _read_credentials(path)
    operators, accounts = seeding.demo_seed()
    data = {
        "operators": [
            {"username": o.username, "password": o.password, "roles": sorted(o.roles)}
            for o in operators
        ],
        "accounts": [
            {
                "account": a.account,
                "name": a.name,
                "currency": a.currency,
                "balance": str(a.balance),
                "overdraft": a.overdraft,
            }
            for a in accounts
        ],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return data


def write_sanctions(data_dir: Path) -> Path:
    """The demo's sanctions list, written anew each run as the certificates are, so that what the
    welcome says it holds is what it holds; PAYWIRE_SANCTIONS_FILE gives a list of one's own."""
    path = data_dir / SANCTIONS_FILE
    path.write_text(
        "# paywire demo: payments naming these are HELD for a compliance officer\n"
        "type,value,source\n"
        f"NAME,{SANCTIONED_NAME},paywire demo list\n"
        f"BIC,{SANCTIONED_BIC},paywire demo list\n",
        encoding="utf-8",
    )
    return path


def _read_credentials(path: Path) -> dict[str, Any]:
    """The seed a previous demo kept, checked before the database starts. A file cut short
    (a disk that filled up), edited, or written by an older paywire cannot be used; the demo
    makes a new one when there is none, so deleting it is the way out."""
    again = "delete it and run `paywire demo` again to generate a new one"
    try:
        data: dict[str, Any] = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the demo seed file {path}: {exc.strerror}; {again}"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"the demo seed file {path} is not valid JSON ({exc}); {again}") from None
    try:
        seeding.parse_seed_file(data)
    except ValidationError as exc:
        raise ValidationError(
            f"the demo seed file {path} is not a valid seed; {again}", details=exc.details
        ) from None
    return data


def print_welcome(url: str, credentials: dict[str, Any], demo_list: bool) -> None:
    width = max(len(o["username"]) for o in credentials["operators"])
    account_width = max(len(a["account"]) for a in credentials["accounts"])
    lines = [
        "",
        f"paywire demo is running: {url}",
        f"  terminal UI  {url}/",
        f"  API docs     {url}/api-docs",
        f"  metrics      {url}/metrics",
        "",
        "Operators (username  password  roles):",
        *(
            f"  {o['username']:<{width}}  {o['password']}  {','.join(o['roles'])}"
            for o in credentials["operators"]
        ),
        "",
        "Accounts to pay from (account  currency  name):",
        *(
            f"  {a['account']:<{account_width}}  {a['currency']}  {a['name']}"
            for a in credentials["accounts"]
        ),
        "",
        *(
            [
                f"Screening holds a payment naming {SANCTIONED_NAME}, or to a creditor agent of"
                f" BIC {SANCTIONED_BIC}, for the compliance operator.",
                "",
            ]
            if demo_list
            else []
        ),
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def step(message: str) -> None:
    print(f"demo: {message}", flush=True)
