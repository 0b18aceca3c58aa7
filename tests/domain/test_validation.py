"""Entry validation of a creation body: every problem reported at once, nothing truncated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from paywire.domain.validation import defanged, parse_payment
from paywire.errors import ValidationError
from tests.fixtures.world import payment_body

TODAY = date(2026, 11, 26)


def body(**changes: Any) -> dict[str, Any]:
    """The example body, dated the day after TODAY."""
    return payment_body(**{"value_date": "2026-11-27", **changes})


def problems(payload: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        parse_payment(payload, today=TODAY)
    return {d["field"]: d["message"] for d in raised.value.details}


def test_the_spec_example_is_accepted() -> None:
    new = parse_payment(body(), today=TODAY)
    assert new.amount == Decimal("1250.00")
    assert new.value_date == date(2026, 11, 27)
    assert new.creditor.agent_bic == "BNPAFRPPXXX"
    assert new.debtor.agent_bic is None


def test_optional_fields_default() -> None:
    payload = body()
    for name in ("value_date", "end_to_end_id", "remittance_info"):
        del payload[name]
    new = parse_payment(payload, today=TODAY)
    assert (new.value_date, new.end_to_end_id, new.remittance_info) == (TODAY, None, None)


def test_printed_ibans_are_taken_in_electronic_form() -> None:
    new = parse_payment(
        body(debtor={"name": "ACME", "account": "de89 3704 0044 0532 0130 00"}), today=TODAY
    )
    assert new.debtor.account == "DE89370400440532013000"


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        body(
            amount="12.345",
            value_date="2026-11-25",
            debtor={"name": "", "account": "DE89370400440532013001"},
            creditor={
                "name": "x" * 141,
                "account": "FR1420041010050500013M02606",
                "agent_bic": "BNPA",
            },
            end_to_end_id="E" * 36,
            remittance_info="tab\there",
            colour="blue",
        )
    )
    assert set(found) == {
        "amount",
        "value_date",
        "debtor.name",
        "debtor.account",
        "creditor.name",
        "creditor.agent_bic",
        "end_to_end_id",
        "remittance_info",
        "colour",
    }
    assert "at most 140 characters, not 141" in found["creditor.name"]
    assert "U+0009" in found["remittance_info"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XXQ"}, "currency"),
        ({"currency": None}, "currency"),
        ({"amount": 1250.0}, "amount"),
        ({"amount": None}, "amount"),
        ({"value_date": "2026-W48-5"}, "value_date"),
        ({"value_date": "2027-12-31"}, "value_date"),
        ({"debtor": "ACME"}, "debtor"),
        (
            {"creditor": {"name": "G", "account": "FR14", "agent_bic": "BNPAFRPP", "x": 1}},
            "creditor.x",
        ),
        (
            {"creditor": {"name": "G", "account": "FR1420041010050500013M02606"}},
            "creditor.agent_bic",
        ),
        ({"remittance_info": "bidi \u202e override"}, "remittance_info"),
        ({"remittance_info": "line\u2028break"}, "remittance_info"),
        ({"end_to_end_id": "   "}, "end_to_end_id"),
    ],
)
def test_single_problems_name_their_field(changes: dict[str, Any], field: str) -> None:
    assert field in problems(body(**changes))


@pytest.mark.parametrize(
    "other_id", ["ACC-0001/77", "acc 7", "(12) 34.56,7'8+9?0:X", "  ACC-7  ", "A" * 34]
)
def test_other_account_ids_up_to_34_characters_of_the_swift_set_are_accepted(
    other_id: str,
) -> None:
    new = parse_payment(
        body(creditor={"name": "Initech KK", "account": other_id, "agent_bic": "BOTKJPJT"}),
        today=TODAY,
    )
    assert new.creditor.account == other_id.strip()


def test_an_other_account_id_over_34_characters_is_refused() -> None:
    assert "creditor.account" in problems(
        body(creditor={"name": "I", "account": "A" * 35, "agent_bic": "BOTKJPJT"})
    )


@pytest.mark.parametrize(
    ("account", "refused"),
    [
        ("DE\uff189370400440532013001", "U+FF18"),  # a full-width 8
        ("\uff24\uff2589370400440532013001", "U+FF24"),  # a full-width DE
        ("D\u041589370400440532013001", "U+0415"),  # a Cyrillic E
        ("\uff26\uff32\uff11\uff14\uff12\uff10\uff10\uff14", "U+FF26"),  # all full-width
        ("\u0131T60X0542811101000000123456", "U+0131"),  # a dotless i, which upper() makes I
        ("ACC\u00a07", "U+00A0"),  # a no-break space inside another id
        ("ACC#7", "U+0023"),
        ("Konto M\u00fcller", "U+00FC"),
    ],
)
def test_account_ids_outside_the_swift_set_are_refused_naming_the_character(
    account: str, refused: str
) -> None:
    """Not taken as other ids: what a reader takes for an IBAN must be checked as one."""
    for party, extra in (("debtor", {}), ("creditor", {"agent_bic": "BNPAFRPP"})):
        found = problems(body(**{party: {"name": "G", "account": account, **extra}}))
        assert found == {
            f"{party}.account": "must hold only the letters A-Z and a-z, digits, spaces and "
            f"/ - ? : ( ) . , ' +; {refused} is not"
        }


def test_an_iban_shaped_account_must_be_a_valid_iban() -> None:
    found = problems(body(creditor={"name": "G", "account": "FR14200410", "agent_bic": "BNPAFRPP"}))
    assert "27 characters" in found["creditor.account"]


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2003"])
def test_an_iban_behind_any_space_is_still_checked_as_one(space: str) -> None:
    def creditor(account: str) -> dict[str, Any]:
        return body(creditor={"name": "G", "account": account, "agent_bic": "BNPAFRPP"})

    assert "creditor.account" in problems(creditor(f"{space}DE00370400440532013000"))
    assert "creditor.account" in problems(creditor(f"XX12{space}ABCDEF"))
    spaced = parse_payment(creditor(f"{space}DE89{space}3704 0044 0532 0130 00"), today=TODAY)
    assert spaced.creditor.account == "DE89370400440532013000"


@pytest.mark.parametrize("blank", ["\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"])
def test_characters_that_display_as_a_blank_are_refused(blank: str) -> None:
    """Hangul fillers and the blank braille pattern: "Ivan\u3164Drago" reads as two words."""
    found = problems(body(creditor={**body()["creditor"], "name": f"Ivan{blank}Drago"}))
    assert found == {"creditor.name": f"must be printable text; U+{ord(blank):04X} is not"}


def test_text_keeps_unicode_letters_and_trims_outer_space() -> None:
    new = parse_payment(
        body(creditor={**body()["creditor"], "name": "  Société Générale  "}), today=TODAY
    )
    assert new.creditor.name == "Société Générale"


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert problems(["not", "an", "object"]) == {"": "must be a JSON object"}


def test_defanged_keeps_what_entry_would_take_and_replaces_what_it_refuses() -> None:
    """Every ASCII character, through the quick path for ASCII and the general one beside a
    non-ASCII character: tab, newline and the other controls become U+FFFD, the rest stays."""
    for code in range(128):
        char = chr(code)
        expected = "\ufffd" if code < 32 or code == 127 else char
        assert defanged(f"A{char}B") == f"A{expected}B", code
        assert defanged(f"é{char}") == f"é{expected}", code
    assert defanged("closed\u202eLIAF\u2028x") == "closed\ufffdLIAF\ufffdx"
    assert defanged("blank\u3164or\u2800not") == "blank\ufffdor\ufffdnot"
