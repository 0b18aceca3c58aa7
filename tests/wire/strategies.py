"""Hypothesis strategies for payments: a valid value for every pacs.008 field, hostile text too."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from paywire.wire import minor_digits

# Markup characters and letters beyond ASCII, so escaping and character counting are exercised.
SPECIALS = "&<>\"'"
LETTERS = "aZ09 -éÖßçøñ漢字😀\u00a0"

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "KRW", "BHD", "KWD", "TND", "CLF", "UYW", "XCG"]


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Printable text of 1..max_size characters, often with markup characters in it."""
    printable = st.characters(
        blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"
    )
    return st.text(
        st.one_of(st.sampled_from(SPECIALS), st.sampled_from(LETTERS), printable),
        min_size=1,
        max_size=max_size,
    )


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = UPPER + DIGITS


def _spell(number: int, alphabet: str, size: int) -> tuple[str, int]:
    """`size` characters of `alphabet` taken from `number`'s digits, and what is left of it."""
    chars = []
    for _ in range(size):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return "".join(chars), number


def _bic(number: int) -> str:
    bank, number = _spell(number, ALNUM, 4)
    country, number = _spell(number, UPPER, 2)
    location, number = _spell(number, ALNUM, 2)
    branch = _spell(number // 2, ALNUM, 3)[0] if number % 2 else ""
    return bank + country + location + branch


def _iban(number: int) -> str:
    country, number = _spell(number, UPPER, 2)
    check, number = _spell(number, DIGITS, 2)
    length = number % 30 + 1
    bban, _ = _spell(number // 30, ALNUM + ALNUM.lower(), length)
    return country + check + bban


# One integer per identifier, mapped onto the pattern: drawing characters one by one (or
# with `from_regex`) makes a 1,000-example run several times slower.
bics = st.integers(min_value=0, max_value=2**80).map(_bic)
ibans = st.integers(min_value=0, max_value=2**200).map(_iban)
other_ids = texts(34).filter(lambda s: not _looks_like_iban(s))
uetrs = st.uuids(version=4).map(str)


def _looks_like_iban(value: str) -> bool:
    return (
        5 <= len(value) <= 34
        and value[:2].isascii()
        and value[:2].isupper()
        and value[:2].isalpha()
        and value[2:4].isascii()
        and value[2:4].isdigit()
        and value[4:].isascii()
        and value[4:].isalnum()
    )


offsets = st.timedeltas(
    min_value=datetime.timedelta(hours=-23, minutes=-59),
    max_value=datetime.timedelta(hours=23, minutes=59),
).map(lambda d: datetime.timezone(datetime.timedelta(minutes=d // datetime.timedelta(minutes=1))))
aware_datetimes = st.datetimes(
    min_value=datetime.datetime(2, 1, 1),
    max_value=datetime.datetime(9998, 12, 31),
    timezones=offsets,
)


@dataclass(frozen=True)
class Money:
    """An amount as it is handed to build_pacs008, and what must appear on the wire."""

    given: str | Decimal
    currency: str
    wire: str


@st.composite
def money(draw: st.DrawFn) -> Money:
    currency = draw(st.sampled_from(CURRENCIES))
    minor = minor_digits(currency)
    units = draw(st.integers(min_value=1, max_value=10**18 - 1))
    exact = Decimal(units).scaleb(-minor)
    wire = f"{exact:.{minor}f}"
    padded = exact.quantize(Decimal(1).scaleb(-minor - draw(st.integers(0, 2))))
    forms: list[str | Decimal] = [wire, str(padded), exact, padded, exact.normalize()]
    given = draw(st.sampled_from(forms))
    return Money(given, currency, wire)


@st.composite
def payments(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for build_pacs008, every one valid."""
    amount = draw(money())
    return {
        "msg_id": draw(texts(35)),
        "created_at": draw(aware_datetimes),
        "instr_id": draw(texts(35)),
        "end_to_end_id": draw(texts(35)),
        "uetr": draw(uetrs),
        "amount": amount.given,
        "currency": amount.currency,
        "value_date": draw(st.dates()),
        "instructing_bic": draw(bics),
        "instructed_bic": draw(bics),
        "debtor_name": draw(texts(140)),
        "debtor_account": draw(st.one_of(ibans, other_ids)),
        "debtor_agent_bic": draw(bics),
        "creditor_name": draw(texts(140)),
        "creditor_account": draw(st.one_of(ibans, other_ids)),
        "creditor_agent_bic": draw(bics),
        "remittance_info": draw(st.none() | texts(140)),
    }
