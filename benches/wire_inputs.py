"""Inputs shared by the wire benchmarks: one realistic payment and the sample answers."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "iso20022"
UTC = datetime.UTC

# The SPEC §7 example payment, as every implementation receives it.
PAYMENT: dict[str, Any] = {
    "msg_id": "MSG-20261126-000001",
    "created_at": datetime.datetime(2026, 11, 26, 16, 30, 0, 123000, tzinfo=UTC),
    "instr_id": "PAY-2026-000001",
    "end_to_end_id": "INV-2026-0042",
    "uetr": "8a562c67-ca16-48ba-b074-65581be6f011",
    "amount": Decimal("1250.00"),
    "currency": "EUR",
    "value_date": datetime.date(2026, 11, 27),
    "instructing_bic": "COBADEFFXXX",
    "instructed_bic": "BNPAFRPPXXX",
    "debtor_name": "ACME GmbH",
    "debtor_account": "DE89370400440532013000",
    "debtor_agent_bic": "COBADEFFXXX",
    "creditor_name": "Globex SA",
    "creditor_account": "FR1420041010050500013M02606",
    "creditor_agent_bic": "BNPAFRPPXXX",
    "remittance_info": "Invoice 42",
}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def implementation(benchmark: Any, group: str, name: str) -> None:
    """Puts a benchmark in its operation's group and labels it for the ratio table."""
    benchmark.group = group
    benchmark.extra_info["impl"] = name
