"""IBAN and BIC checks, with properties over generated identifiers."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paywire.domain.identifiers import IBAN_LENGTHS, bic_problem, iban_check_digits, iban_problem

ALNUM = string.ascii_uppercase + string.digits


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """A valid IBAN: a registry country, a BBAN of its length, check digits computed for it."""
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    bban = draw(
        st.text(ALNUM, min_size=IBAN_LENGTHS[country] - 4, max_size=IBAN_LENGTHS[country] - 4)
    )
    return country + iban_check_digits(country, bban) + bban


def _same_class(ch: str) -> str:
    # What mod 97 guarantees: a digit for a digit or a letter for a letter is always caught.
    # A letter for a digit inside the BBAN changes the number's length and slips through about
    # once in 97 (see iban_problem), so that case is not claimed here.
    return string.digits if ch.isdigit() else string.ascii_uppercase


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "GB29NWBK60161331926819",
        "FR1420041010050500013M02606",
        "NO9386011117947",
    ],
)
def test_published_examples_are_valid(iban: str) -> None:
    assert iban_problem(iban) is None


@given(ibans())
def test_generated_ibans_are_valid(iban: str) -> None:
    assert iban_problem(iban) is None


@given(ibans(), st.data())
def test_any_single_substitution_of_a_digit_or_letter_by_its_kind_is_refused(
    iban: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(iban) - 1))
    replacement = data.draw(
        st.sampled_from(_same_class(iban[position])).filter(lambda c: c != iban[position])
    )
    mutated = iban[:position] + replacement + iban[position + 1 :]
    assert iban_problem(mutated) is not None


@given(ibans(), st.data())
def test_any_single_substitution_in_country_or_check_digits_is_refused(
    iban: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, 3))
    replacement = data.draw(st.sampled_from(ALNUM).filter(lambda c: c != iban[position]))
    mutated = iban[:position] + replacement + iban[position + 1 :]
    assert iban_problem(mutated) is not None


@given(ibans(), st.data())
def test_a_character_more_or_less_is_refused(iban: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(4, len(iban) - 1))
    assert iban_problem(iban[:position] + iban[position + 1 :]) is not None
    extra = data.draw(st.sampled_from(ALNUM))
    assert iban_problem(iban[:position] + extra + iban[position:]) is not None


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        ("DE8937040044053201300", "22 characters"),
        ("XX89370400440532013000", "not a country"),
        ("de89370400440532013000", "two capital letters"),
        ("DE89 3704 0044 0532 0130 00", "two capital letters"),
        ("DE00370400440532013000", "check digits"),
    ],
)
def test_refusals_say_why(iban: str, message: str) -> None:
    problem = iban_problem(iban)
    assert problem is not None
    assert message in problem


def test_check_digit_99_is_refused_even_where_mod_97_would_pass() -> None:
    # 99 ≡ 2 (mod 97): where 02 is right, 99 passes the checksum and is still not an IBAN.
    bban = next(
        b for b in (f"{n:018d}" for n in range(10**6)) if iban_check_digits("DE", b) == "02"
    )
    assert iban_problem("DE02" + bban) is None
    assert iban_problem("DE99" + bban) is not None


@st.composite
def bics(draw: st.DrawFn) -> str:
    party = draw(st.text(ALNUM, min_size=4, max_size=4))
    country = draw(st.text(string.ascii_uppercase, min_size=2, max_size=2))
    location = draw(st.text(ALNUM, min_size=2, max_size=2))
    branch = draw(st.one_of(st.just(""), st.text(ALNUM, min_size=3, max_size=3)))
    return party + country + location + branch


@given(bics())
def test_generated_bics_are_valid(bic: str) -> None:
    assert bic_problem(bic) is None


@given(bics(), st.data())
def test_bics_of_other_lengths_or_with_a_digit_country_are_refused(
    bic: str, data: st.DataObject
) -> None:
    assert bic_problem(bic[:-1]) is not None
    assert bic_problem(bic + "X") is not None
    assert bic_problem(bic[:4] + data.draw(st.sampled_from(string.digits)) + bic[5:]) is not None
    assert bic_problem(bic.lower()) is not None or not any(c.isalpha() for c in bic)
