"""What a bench run stands on: a database, a receiver and the settings to reach them.

Self-contained by default (embedded PostgreSQL and the reference receiver in its own process,
both under a temporary directory, removed afterwards); or an operator's own database and
receiver, which the run then fills with its bench operators, account and payments. The run is
set up by the owner (migrations, operators, the database's profile); its payments go through a
pool that logs in as `serve` does, held to the gateway's grants.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from paywire.config import Settings
from paywire.domain.identifiers import iban_check_digits
from paywire.domain.operators import Operator
from paywire.receiver.process import (
    LOOPBACK_RECEIVER_BIC,
    LOOPBACK_SENDER_BIC,
    receiver_process,
)
from paywire.services import seeding
from paywire.store import migrator, operators
from paywire.store.database import Database, open_database
from paywire.store.tx import Pool
from paywire.transport.tls import client_context

MAKER, CHECKER = "bench-maker", "bench-checker"
# A debtor whose balance never runs out, whatever N is.
DEBTOR_BBAN = "370400440532099999"
DEBTOR = "DE" + iban_check_digits("DE", DEBTOR_BBAN) + DEBTOR_BBAN


@dataclass(frozen=True, slots=True)
class Bench:
    """`db` is the gateway's (as `serve` logs in), `owner` the login that set the run up."""

    settings: Settings
    db: Pool
    owner: Pool
    maker: Operator
    checker: Operator


@contextlib.asynccontextmanager
async def bench_environment(
    settings: Settings,
    *,
    receiver: tuple[str, int] | None,
    receiver_ca: Path | None,
    embedded_settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Bench]:
    """Settings, database and operators for a run; `receiver` is `(host, port)` or None to start
    the reference receiver; `embedded_settings` configure the embedded server, if one starts."""
    with tempfile.TemporaryDirectory(prefix="paywire-bench-") as scratch:
        work = Path(scratch)
        # PostgreSQL runs as an unprivileged account when we are root: let it in.
        await asyncio.to_thread(work.chmod, 0o755)
        settings = settings.replaced(
            data_dir=settings.data_dir if settings.database_url else work,
            sender_bic=settings.sender_bic or LOOPBACK_SENDER_BIC,
            receiver_bic=settings.receiver_bic or LOOPBACK_RECEIVER_BIC,
        )
        async with _receiver(work, receiver, receiver_ca) as (host, port, ca_file):
            settings = settings.replaced(
                receiver_host=host,
                receiver_port=port,
                receiver_server_name=settings.receiver_server_name
                or ("localhost" if receiver is None else None),
                receiver_ca_file=ca_file,
            )
            if receiver is not None:
                # The pool makes this context only once the run is set up (in e2e mode, its
                # payments entered); a CA file it cannot load is refused before, named as given.
                client_context(settings, ca_setting="--receiver-ca")
            # The command put --database-url there, never DATABASE_URL.
            db = await open_database(
                settings, embedded_settings=embedded_settings, url_setting="--database-url"
            )
            try:
                maker, checker = await _prepare(db)
                gateway = await db.gateway_pool(settings)
                yield Bench(settings, gateway, db.pool, maker, checker)
            finally:
                await db.close()
        shutil.rmtree(work / "pgdata", ignore_errors=True)


async def _prepare(db: Database) -> tuple[Operator, Operator]:
    async with db.pool.acquire() as conn:
        await migrator.upgrade(conn, migrator.load())
    seed = {
        "operators": [
            {"username": name, "password": secrets.token_urlsafe(16), "roles": [role]}
            for name, role in ((MAKER, "MAKER"), (CHECKER, "CHECKER"))
        ],
        "accounts": [
            {
                "account": DEBTOR,
                "name": "paywire bench debtor",
                "currency": "EUR",
                "balance": str(Decimal(10) ** 12),
                "overdraft": True,
            }
        ],
    }
    await seeding.seed_file(db.pool, seed, own_passwords=True)  # generated, never shown
    async with db.pool.acquire() as conn:
        found = {o.username: o for o in await operators.all_operators(conn)}
    return found[MAKER], found[CHECKER]


@contextlib.asynccontextmanager
async def _receiver(
    work: Path, address: tuple[str, int] | None, ca_file: Path | None
) -> AsyncIterator[tuple[str, int, Path | None]]:
    if address is not None:
        yield *address, ca_file
        return
    async with receiver_process(
        "--data-dir", str(work), "--dedup-capacity", "2000000"
    ) as receiver:  # fmt: skip
        yield receiver.host, receiver.port, Path(receiver.printed["ca-file"])
