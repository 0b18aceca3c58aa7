"""Amounts as `Decimal` with exactly the currency's ISO 4217 minor digits, never `float`.

Amounts arrive as strings and are parsed strictly: what the operator typed is what gets sent.
"""

from __future__ import annotations

import re
from decimal import Decimal

from paywire.wire import minor_digits

# pacs.008 ActiveCurrencyAndAmount allows 18 digits in all.
MAX_TOTAL_DIGITS = 18
_AMOUNT_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def currency_digits(currency: str) -> int:
    """The minor digits of an ISO 4217 currency; ValueError for anything else."""
    if not _CURRENCY_RE.fullmatch(currency):
        raise ValueError("must be an ISO 4217 code of three capital letters")
    try:
        return minor_digits(currency)
    except ValueError:
        raise ValueError(f"{currency} is not an ISO 4217 currency") from None


def parse_amount(text: object, currency: str, *, allow_zero: bool = False) -> Decimal:
    """A positive (or, with `allow_zero`, non-negative) amount with at most the currency's minor
    digits, scaled to exactly those."""
    digits = currency_digits(currency)
    if not isinstance(text, str):
        raise ValueError('must be a decimal string such as "1250.00"')
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise ValueError('must be a decimal string such as "1250.00"')
    integer, fraction = match[1], match[2] or ""
    if len(fraction) > digits:
        places = "no decimal places" if digits == 0 else f"at most {digits} decimal places"
        raise ValueError(f"{currency} amounts have {places}")
    if len(integer.lstrip("0")) + digits > MAX_TOTAL_DIGITS:
        raise ValueError(f"must have at most {MAX_TOTAL_DIGITS} digits in all")
    amount = Decimal(text)
    if amount == 0 and not allow_zero:
        raise ValueError("must be positive")
    return amount.quantize(Decimal(1).scaleb(-digits))


def format_amount(amount: Decimal, currency: str) -> str:
    """A stored amount as a string with exactly the currency's minor digits; refuses to round.
    A code no longer in the table (withdrawn from ISO 4217 since the row was stored, as BGN was
    in 2026) is shown with the digits it was stored with: entry refuses such a code, but what
    was entered before must stay readable."""
    try:
        digits = currency_digits(currency)
    except ValueError:
        return f"{amount:f}"
    exact = amount.quantize(Decimal(1).scaleb(-digits))
    if exact != amount:
        raise ValueError(f"{amount} has more decimal places than {currency} allows")
    return f"{exact:f}"
