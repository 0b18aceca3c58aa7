"""A small world on a fresh database: operators of every role, funded accounts, and helpers
that drive a payment through the real services to any status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from argon2 import PasswordHasher

from paywire.domain.accounts import Account
from paywire.domain.identifiers import iban_check_digits
from paywire.domain.payment import Payment
from paywire.domain.roles import Role
from paywire.domain.screening import ScreeningRules, parse_sanctions_csv
from paywire.domain.statuses import Status
from paywire.services import payments, pipeline
from paywire.store import ledger
from paywire.store import operators as operator_store
from paywire.store.ledger import PostgresLedger
from paywire.store.messages import IncomingAnswer, OutgoingMessage
from paywire.store.operators import Operator
from paywire.store.tx import Pool

# Real argon2id, with the cheapest parameters, so that tests log in by the hundred.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
PASSWORD_HASH = CHEAP_HASHER.hash(PASSWORD)

ACME = "DE89370400440532013000"
POOR = "DE" + iban_check_digits("DE", "500105175407324931") + "500105175407324931"
YANKEE = "DE" + iban_check_digits("DE", "370400440532013001") + "370400440532013001"
SANCTIONS = "type,value,source\nNAME,Ivan Drago,OFAC SDN\nBIC,EVILGB2L,UK HMT\n"


def body(**changes: Any) -> dict[str, Any]:
    """The SPEC's example creation body, with `changes` applied."""
    base: dict[str, Any] = {
        "amount": "1250.00",
        "currency": "EUR",
        "debtor": {"name": "ACME GmbH", "account": ACME},
        "creditor": {
            "name": "Globex SA",
            "account": "FR1420041010050500013M02606",
            "agent_bic": "BNPAFRPPXXX",
        },
        "end_to_end_id": "INV-2026-0042",
        "remittance_info": "Invoice 42",
    }
    base.update(changes)
    return base


@dataclass
class World:
    pool: Pool
    operators: dict[str, Operator]
    rules: ScreeningRules
    ledger: PostgresLedger

    def __getattr__(self, name: str) -> Operator:
        try:
            return self.operators[name]
        except KeyError:
            raise AttributeError(name) from None

    async def account(self, number: str) -> Account:
        async with self.pool.acquire() as conn:
            found = await ledger.account_by_number(conn, number)
        assert found is not None
        return found

    async def balance(self, number: str) -> Decimal:
        return (await self.account(number)).balance

    async def create(self, **changes: Any) -> Payment:
        created = await payments.create_payment(self.pool, body(**changes), self.operators["maker"])
        return created.payment

    async def drive(self, payment: Payment, status: Status) -> Payment:
        """Take an INITIATED payment along the happy path (or to HELD/FAILED) to `status`."""
        steps = {
            Status.APPROVED: self._approve,
            Status.SCREENED: self._screen,
            Status.POSTED: self._post,
            Status.TRANSMITTED: self._transmit,
            Status.COMPLETED: self._ack,
        }
        path = [
            Status.APPROVED,
            Status.SCREENED,
            Status.POSTED,
            Status.TRANSMITTED,
            Status.COMPLETED,
        ]
        if status in (Status.HELD, Status.FAILED):
            raise ValueError("reach HELD and FAILED through their own inputs")
        for step in path[: path.index(status) + 1]:
            payment = await steps[step](payment)
        return payment

    async def _approve(self, payment: Payment) -> Payment:
        return await payments.approve(self.pool, payment.id, self.operators["checker"])

    async def _screen(self, payment: Payment) -> Payment:
        await pipeline.screen(self.pool, [payment.id], self.rules)
        return await self.reload(payment)

    async def _post(self, payment: Payment) -> Payment:
        await pipeline.post(self.pool, [payment.id], self.ledger)
        return await self.reload(payment)

    async def _transmit(self, payment: Payment) -> Payment:
        await pipeline.transmit(self.pool, [outgoing(payment)])
        return await self.reload(payment)

    async def _ack(self, payment: Payment) -> Payment:
        await pipeline.settle(self.pool, [answer(payment, "ACK")], self.ledger)
        return await self.reload(payment)

    async def reload(self, payment: Payment) -> Payment:
        return (await payments.get_payment(self.pool, payment.id)).payment


def outgoing(payment: Payment) -> OutgoingMessage:
    return OutgoingMessage(
        payment.id, payment.msg_id, payment.uetr, f"<{payment.msg_id}/>".encode()
    )


def answer(
    payment: Payment,
    kind: str,
    *,
    reason_code: str | None = None,
    uetr: str | None = None,
    msg_id: str | None = None,
) -> IncomingAnswer:
    return IncomingAnswer(
        msg_id=msg_id or payment.msg_id,
        kind=kind,  # type: ignore[arg-type]
        status="ACCP" if kind == "ACK" else "RJCT",
        reason_code=reason_code,
        reason_text="account closed" if reason_code else None,
        uetr=uetr if uetr is not None else str(payment.uetr),
        payload=b"<answer/>",
        received_at=datetime.now(UTC),
    )


async def add_operator(pool: Pool, name: str, *roles: Role) -> Operator:
    async with pool.acquire() as conn:
        return await operator_store.insert(conn, name, PASSWORD_HASH, roles)


async def add_account(
    pool: Pool, number: str, currency: str, balance: str, *, overdraft: bool = False
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO accounts (account, name, currency, balance, overdraft)"
            " VALUES ($1, $2, $3, $4, $5)",
            number,
            f"Account {number}",
            currency,
            Decimal(balance),
            overdraft,
        )


@pytest.fixture
async def world(db_pool: Pool) -> World:
    operators = {}
    for name, roles in (
        ("maker", (Role.MAKER,)),
        ("maker2", (Role.MAKER,)),
        ("checker", (Role.CHECKER,)),
        ("checker2", (Role.CHECKER,)),
        ("compliance", (Role.COMPLIANCE,)),
        ("admin", (Role.ADMIN,)),
        ("auditor", (Role.AUDITOR,)),
        ("allround", tuple(Role)),
    ):
        operators[name] = await add_operator(db_pool, name, *roles)
    await add_account(db_pool, ACME, "EUR", "1000000.00")
    await add_account(db_pool, POOR, "EUR", "100.00")
    await add_account(db_pool, YANKEE, "USD", "5000.00")
    rules = parse_sanctions_csv(SANCTIONS, {"EUR": Decimal("500000")})
    return World(db_pool, operators, rules, PostgresLedger())
