"""Reconciliation as data: the categories of unmatched items, the items and a day's totals.

The matching rules run as SQL (`paywire.store.reconciliation`); docs/RECONCILIATION.md states them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from paywire.domain import exception_kinds as kinds
from paywire.domain.money import format_amount
from paywire.domain.payment import utc_iso

MISSING_ACK = "MISSING_ACK"
LEDGER_MISMATCH = "LEDGER_MISMATCH"
MISSING_REVERSAL = "MISSING_REVERSAL"
ORPHAN_ACK = "ORPHAN_ACK"
CATEGORIES = (MISSING_ACK, LEDGER_MISMATCH, MISSING_REVERSAL, ORPHAN_ACK)

# The exception each category opens; SPEC names the missing answer ACK_MISSING in the queue.
EXCEPTION_KIND = {
    MISSING_ACK: kinds.ACK_MISSING,
    LEDGER_MISMATCH: kinds.LEDGER_MISMATCH,
    MISSING_REVERSAL: kinds.MISSING_REVERSAL,
    ORPHAN_ACK: kinds.ORPHAN_ACK,
}

# The columns of the CSV form of an unmatched list, in order.
COLUMNS = ("payment_id", "msg_id", "category", "detail", "since", "exception_id")


@dataclass(frozen=True, slots=True)
class Unmatched:
    """One item a reconciliation could not match; an orphan answer has no payment.
    `exception_id` is the item's OPEN exception, if one is open. `needs_exception`: none is
    open, and the pipeline will not open one (a TRANSMITTED payment's ACK_MISSING is the
    pipeline's, once it stops resending); the rule is the query's (store/reconciliation.py),
    which the sweep's opening statement applies again."""

    payment_id: UUID | None
    msg_id: str | None
    category: str
    detail: str
    since: datetime
    exception_id: int | None = None
    needs_exception: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "payment_id": str(self.payment_id) if self.payment_id else None,
            "msg_id": self.msg_id,
            "category": self.category,
            "detail": self.detail,
            "since": utc_iso(self.since),
            "exception_id": self.exception_id,
        }

    def csv_row(self) -> list[str]:
        """The item as a CSV row of `COLUMNS`; an absent value is an empty field, and one a
        spreadsheet would run as a formula is written as text."""
        return [_as_text("" if value is None else str(value)) for value in self.as_dict().values()]


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """A day's payments in one currency: how many, their sum, how many matched, and how many
    unmatched items they gave."""

    currency: str
    payments: int
    amount: Decimal
    matched: int
    unmatched: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "payments": self.payments,
            "amount": format_amount(self.amount, self.currency),
            "matched": self.matched,
            "unmatched": self.unmatched,
        }


@dataclass(frozen=True, slots=True)
class DaySummary:
    """The head of a daily report: everything but the unmatched list itself. `orphans` counts
    the day's unmatched answers naming no known message, which belong to no currency."""

    day: date
    as_of: datetime
    by_currency: tuple[CurrencyTotals, ...]
    orphans: int

    @property
    def payments(self) -> int:
        return sum(c.payments for c in self.by_currency)

    @property
    def unmatched(self) -> int:
        """The length of the report's unmatched list."""
        return sum(c.unmatched for c in self.by_currency) + self.orphans

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "as_of": utc_iso(self.as_of),
            "totals": {
                "payments": self.payments,
                "matched": sum(c.matched for c in self.by_currency),
                "unmatched": self.unmatched,
            },
            "by_currency": [c.as_dict() for c in self.by_currency],
        }


@dataclass(frozen=True, slots=True)
class BalanceBreak:
    """An account whose balance is not its opening balance plus its ledger entries. The opening
    balance is the one its seeding last set, as audited (a clearing account opens at zero);
    `opening` is None when the audit log has none, so the balance cannot be checked."""

    account: str
    currency: str
    balance: Decimal
    opening: Decimal | None
    entries: Decimal

    def as_dict(self) -> dict[str, Any]:
        difference = None if self.opening is None else self.balance - self.opening - self.entries
        return {
            "account": self.account,
            "currency": self.currency,
            "balance": f"{self.balance:f}",
            "opening": None if self.opening is None else f"{self.opening:f}",
            "entries": f"{self.entries:f}",
            "difference": None if difference is None else f"{difference:f}",
        }


# The first characters that make a spreadsheet take a cell for a formula (OWASP, "CSV
# injection"). The report carries text from outside (an orphan answer's MsgId is the receiver's),
# and ADMINs and AUDITORs open it in spreadsheets: such a cell is written after an apostrophe,
# which a spreadsheet shows as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell
