"""Ledger accounts and their entries as paywire shows them (SPEC §7 account representation).

Plain frozen data built by the store; the balance is a Decimal in the account's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from paywire.domain.money import format_amount
from paywire.domain.payment import utc_iso

CUSTOMER = "CUSTOMER"
CLEARING = "CLEARING"
# `account` values with this prefix are the clearing accounts' alone.
CLEARING_PREFIX = "CLEARING-"


def clearing_account(currency: str) -> str:
    """The `account` of the clearing (nostro) account that postings in `currency` credit."""
    return f"{CLEARING_PREFIX}{currency}"


@dataclass(frozen=True, slots=True)
class Account:
    id: UUID
    account: str
    name: str
    currency: str
    balance: Decimal
    overdraft: bool
    kind: Literal["CUSTOMER", "CLEARING"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "account": self.account,
            "name": self.name,
            "currency": self.currency,
            "balance": format_amount(self.balance, self.currency),
            "overdraft": self.overdraft,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One side of a posting: negative debits the account, positive credits it."""

    id: int
    posting_id: UUID
    payment_id: UUID
    kind: Literal["POSTING", "REVERSAL"]
    amount: Decimal
    currency: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "posting_id": str(self.posting_id),
            "payment_id": str(self.payment_id),
            "kind": self.kind,
            "amount": format_amount(self.amount, self.currency),
            "currency": self.currency,
            "created_at": utc_iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """Move `amount` from the debtor's `account` to the clearing account of `currency`."""

    payment_id: UUID
    account: str
    amount: Decimal
    currency: str
