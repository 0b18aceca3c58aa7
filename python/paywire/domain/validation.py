"""Entry validation of a payment creation body, every problem reported, not just the first; the
field checks it is made of, shared with seeding and operator decisions; and `defanged`, which
makes a counterparty's text safe to show.

Refused input is refused whole: nothing is truncated or silently changed beyond the spacing and
letter case of an IBAN.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from paywire.domain.identifiers import IBAN_SHAPE, bic_problem, iban_problem
from paywire.domain.money import currency_digits, parse_amount
from paywire.domain.payment import NewPayment, Party
from paywire.errors import ValidationError

NAME_MAX = 140
OTHER_ID_MAX = 34
END_TO_END_ID_MAX = 35
REMITTANCE_MAX = 140
# How far ahead a value date may lie.
VALUE_DATE_HORIZON = timedelta(days=365)

# Control, format (e.g. bidirectional overrides), surrogate, private-use and unassigned code
# points, and line separators: none can be shown reliably or sent in the XML message.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# What displays as a blank without being a space: the Hangul fillers, the only letters among
# Unicode's default-ignorable code points, and the blank braille pattern. No text needs them, and
# "Ivan\u3164Drago" reads as "Ivan Drago" while it is one word to anything that splits on spaces.
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Accounts (the `account` fields), IBANs or others, are held to SWIFT's "x" character set, which
# every bank on a cross-border route accepts in an identifier; and a full-width or Cyrillic letter
# would let an IBAN pass for another id, unchecked.
_ACCOUNT_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")
_ACCOUNT_RULE = "must hold only the letters A-Z and a-z, digits, spaces and / - ? : ( ) . , ' +"
_FIELDS = frozenset(
    {"amount", "currency", "value_date", "debtor", "creditor", "end_to_end_id", "remittance_info"}
)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DEBTOR_FIELDS = frozenset({"name", "account"})
_CREDITOR_FIELDS = frozenset({"name", "account", "agent_bic"})


@dataclass
class Problems:
    """Collects `{"field", "message"}` details, then raises them all as one ValidationError."""

    details: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.details.append({"field": name, "message": message})

    def raise_any(self, summary: str) -> None:
        if self.details:
            raise ValidationError(summary, details=self.details)


def parse_payment(body: object, *, today: date) -> NewPayment:
    """A NewPayment from a creation body (SPEC §7), or ValidationError listing every problem."""
    if not isinstance(body, Mapping):
        raise ValidationError(
            "invalid payment", details=[{"field": "", "message": "must be a JSON object"}]
        )
    problems = Problems()
    for name in sorted(set(body) - _FIELDS):
        problems.add(str(name), "unknown field")
    currency = currency_code(body.get("currency"), "currency", problems)
    amount = _amount(body.get("amount"), currency, problems)
    value_date = _value_date(body.get("value_date"), today, problems)
    debtor = _party(body.get("debtor"), "debtor", _DEBTOR_FIELDS, problems)
    creditor = _party(body.get("creditor"), "creditor", _CREDITOR_FIELDS, problems)
    end_to_end_id = optional_text(body, "end_to_end_id", END_TO_END_ID_MAX, problems)
    remittance_info = optional_text(body, "remittance_info", REMITTANCE_MAX, problems)
    problems.raise_any("invalid payment")
    if currency is None or amount is None or value_date is None or debtor is None or not creditor:
        raise AssertionError("a field without a problem was not parsed")
    return NewPayment(
        amount=amount,
        currency=currency,
        value_date=value_date,
        debtor=debtor,
        creditor=creditor,
        end_to_end_id=end_to_end_id,
        remittance_info=remittance_info,
    )


def text(value: object, name: str, max_length: int, problems: Problems) -> str | None:
    """Printable text of 1..max_length characters, outer whitespace removed; None if refused."""
    if not isinstance(value, str):
        problems.add(name, "is required" if value is None else "must be a string")
        return None
    # Checked before stripping: str.strip() also removes controls such as U+0085 and U+001C,
    # which must be refused, not silently dropped from the ends.
    if not _printable(value, name, problems):
        return None
    stripped = value.strip()
    if not stripped:
        problems.add(name, "must not be empty")
        return None
    if len(stripped) > max_length:
        problems.add(name, f"must be at most {max_length} characters, not {len(stripped)}")
        return None
    return stripped


def required_text(value: object, name: str, max_length: int, summary: str) -> str:
    """One required text field on its own: the text, or a ValidationError saying `summary` with
    the field's problem."""
    problems = Problems()
    checked = text(value, name, max_length, problems)
    problems.raise_any(summary)
    assert checked is not None
    return checked


def optional_text(
    body: Mapping[str, object], name: str, max_length: int, problems: Problems
) -> str | None:
    value = body.get(name)
    return None if value is None else text(value, name, max_length, problems)


def account(value: object, name: str, problems: Problems) -> str | None:
    """An IBAN (in electronic form) or, for anything not shaped like one, another id ≤ 34;
    either in SWIFT's "x" character set."""
    if not isinstance(value, str):
        problems.add(name, "is required" if value is None else "must be a string")
        return None
    # Spacing of every kind goes before the shape test: text() strips Unicode spaces too, so
    # an IBAN behind a no-break space would otherwise be taken as another id, unchecked.
    if not _printable(value, name, problems):
        return None
    compact = "".join(value.split())
    if not _account_characters(compact, name, problems):
        return None
    iban = compact.upper()
    if IBAN_SHAPE.match(iban):
        problem = iban_problem(iban)
        if problem is not None:
            problems.add(name, problem)
            return None
        return iban
    other = text(value, name, OTHER_ID_MAX, problems)
    # Spaces other than U+0020 inside another id are kept by text(), so checked once more.
    if other is None or not _account_characters(other, name, problems):
        return None
    return other


def defanged(value: str) -> str:
    """Text a counterparty sent (a NACK's reason), as safe to show as entered text: what entry
    validation refuses (line breaks, bidirectional overrides, other controls) becomes U+FFFD,
    so it cannot draw lines of its own in the operator's terminal. Kept, not refused: the
    answer itself must still settle its payment."""
    if value.isascii() and value.isprintable():
        # Every answer's MsgId passes here: in ASCII only controls are refused, and those are
        # exactly what isprintable() rejects, so the common case costs no loop in Python.
        return value
    return "".join("\ufffd" if _refused(ch) else ch for ch in value)


def _refused(ch: str) -> bool:
    return ch in BLANKS or unicodedata.category(ch) in _REFUSED_CATEGORIES


def _printable(value: str, name: str, problems: Problems) -> bool:
    return _only(value, lambda ch: not _refused(ch), "must be printable text", name, problems)


def _account_characters(value: str, name: str, problems: Problems) -> bool:
    return _only(value, _ACCOUNT_CHARACTERS.__contains__, _ACCOUNT_RULE, name, problems)


def _only(
    value: str, allowed: Callable[[str], bool], rule: str, name: str, problems: Problems
) -> bool:
    # The first character refused is named by its code point, never the value: a field may be
    # an account number, and a character shown as itself may be invisible or look like another.
    bad = next((ch for ch in value if not allowed(ch)), None)
    if bad is not None:
        problems.add(name, f"{rule}; U+{ord(bad):04X} is not")
    return bad is None


def bic(value: object, name: str, problems: Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(name, "is required" if value is None else "must be a string")
        return None
    problem = bic_problem(value)
    if problem is not None:
        problems.add(name, problem)
        return None
    return value


def currency_code(value: object, name: str, problems: Problems) -> str | None:
    """An ISO 4217 currency code paywire knows the minor digits of."""
    if not isinstance(value, str):
        problems.add(name, "is required" if value is None else "must be a string")
        return None
    try:
        currency_digits(value)
    except ValueError as exc:
        problems.add(name, str(exc))
        return None
    return value


def _amount(value: object, currency: str | None, problems: Problems) -> Decimal | None:
    if value is None:
        problems.add("amount", "is required")
        return None
    if currency is None:
        return None  # its digits depend on the currency, already reported
    try:
        return parse_amount(value, currency)
    except ValueError as exc:
        problems.add("amount", str(exc))
        return None


def _value_date(value: object, today: date, problems: Problems) -> date | None:
    if value is None:
        return today
    if not isinstance(value, str):
        problems.add("value_date", "must be a date string YYYY-MM-DD")
        return None
    parsed = iso_date(value)
    if parsed is None:
        problems.add("value_date", "must be a date YYYY-MM-DD")
        return None
    if parsed < today:
        problems.add("value_date", f"must not be before today ({today.isoformat()})")
        return None
    if parsed > today + VALUE_DATE_HORIZON:
        problems.add("value_date", f"must be within {VALUE_DATE_HORIZON.days} days from today")
        return None
    return parsed


def iso_date(value: str) -> date | None:
    """The day `value` writes as YYYY-MM-DD, or None. `date.fromisoformat` alone also takes
    `20260101` and `2026-W01-4` (Python 3.11), forms no help text or schema promises, which a
    typo can produce and which would then be read as some day."""
    if not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def report_day_problem(day: date, today: date) -> str | None:
    """Why no report of `day` (a reconciliation, an audit export) can be made yet, or None. A
    day after today (UTC) holds nothing yet: its empty report would pass for a clean one, and a
    cron job given a wrong date would pass green."""
    if day > today:
        return (
            f"must not be after today ({today.isoformat()}, UTC): the report of a day can be "
            "made from that day on"
        )
    return None


def _party(value: object, name: str, allowed: frozenset[str], problems: Problems) -> Party | None:
    if not isinstance(value, Mapping):
        problems.add(name, "is required" if value is None else "must be an object")
        return None
    for extra in sorted(set(value) - allowed):
        problems.add(f"{name}.{extra}", "unknown field")
    party_name = text(value.get("name"), f"{name}.name", NAME_MAX, problems)
    party_account = account(value.get("account"), f"{name}.account", problems)
    agent = None
    if "agent_bic" in allowed:
        agent = bic(value.get("agent_bic"), f"{name}.agent_bic", problems)
    if party_name is None or party_account is None or ("agent_bic" in allowed and agent is None):
        return None
    return Party(party_name, party_account, agent)
