"""Amounts: strict parsing against the currency's ISO 4217 minor digits, exact formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paywire.domain.money import currency_digits, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1250.00", "EUR", "1250.00"),
        ("1250", "EUR", "1250.00"),
        ("0.01", "EUR", "0.01"),
        ("7", "JPY", "7"),
        ("1.234", "BHD", "1.234"),
        ("999999999999999999", "JPY", "999999999999999999"),
    ],
)
def test_accepted_amounts_get_exactly_the_minor_digits(
    text: str, currency: str, expected: str
) -> None:
    amount = parse_amount(text, currency)
    assert isinstance(amount, Decimal)
    assert format_amount(amount, currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("1.001", "EUR", "at most 2 decimal places"),
        ("1.5", "JPY", "no decimal places"),
        ("0", "EUR", "positive"),
        ("0.00", "EUR", "positive"),
        ("-1", "EUR", "decimal string"),
        ("+1", "EUR", "decimal string"),
        ("01", "EUR", "decimal string"),
        ("1e3", "EUR", "decimal string"),
        (" 1", "EUR", "decimal string"),
        ("1.", "EUR", "decimal string"),
        (".5", "EUR", "decimal string"),
        ("1,00", "EUR", "decimal string"),
        ("NaN", "EUR", "decimal string"),
        ("١٢", "EUR", "decimal string"),  # Arabic-Indic digits are digits to Python, not to us
        ("10000000000000000", "EUR", "18 digits"),
        (12.5, "EUR", "decimal string"),
        (12, "EUR", "decimal string"),
    ],
)
def test_refused_amounts(value: object, currency: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(value, currency)


def test_zero_is_allowed_only_when_asked() -> None:
    assert parse_amount("0", "EUR", allow_zero=True) == Decimal("0.00")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "XXQ", ""])
def test_unknown_currencies_are_refused(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        currency_digits(currency)


def test_currency_digits_come_from_the_native_table() -> None:
    assert (currency_digits("EUR"), currency_digits("JPY"), currency_digits("BHD")) == (2, 0, 3)


def test_formatting_refuses_to_round() -> None:
    with pytest.raises(ValueError, match="more decimal places"):
        format_amount(Decimal("1.005"), "EUR")
    assert format_amount(Decimal("1E+3"), "EUR") == "1000.00"


def test_an_amount_stored_in_a_currency_withdrawn_since_is_shown_as_stored() -> None:
    """Entry refuses BGN (withdrawn in 2026); an account or payment stored in it before the
    table dropped it must still be shown (an exception here made the account list and every
    page of payments holding one answer 500)."""
    with pytest.raises(ValueError, match="not an ISO 4217 currency"):
        parse_amount("12.50", "BGN")
    assert format_amount(Decimal("12.50"), "BGN") == "12.50"
