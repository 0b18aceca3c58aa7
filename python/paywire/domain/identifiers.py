"""Bank identifiers: IBAN (ISO 13616, mod 97 and per-country length) and BIC (ISO 9362).

Each check returns the reason a value is refused, or None, so callers can report every field.
"""

from __future__ import annotations

import re
from types import MappingProxyType

# IBAN length per country, from the SWIFT IBAN registry.
IBAN_LENGTHS = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
        "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
        "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
        "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
        "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
        "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
        "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
        "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
        "YE": 30,
    }
)  # fmt: skip

# What starts like an IBAN is held to the IBAN rules rather than taken as another kind of id.
IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}")
_IBAN_CHARS = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
# BICFIDec2014Identifier of the pacs.008.001.08 schema.
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
# The branch code of an institution's primary office (ISO 9362).
PRIMARY_OFFICE = "XXX"


def iban_problem(iban: str) -> str | None:
    """Why `iban` (electronic form: no spaces, capitals) is not a valid IBAN, or None.

    Mod 97 catches every substitution of a digit by a digit or a letter by a letter; a letter
    typed for a digit inside the BBAN escapes it about once in 97, which only the per-country
    BBAN formats (not checked here, only lengths are) would catch.
    """
    if not _IBAN_CHARS.fullmatch(iban):
        return "an IBAN is two capital letters, two check digits, then capitals and digits"
    country = iban[:2]
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        return f"{country} is not a country of the IBAN registry"
    if len(iban) != expected:
        return f"an IBAN of {country} has {expected} characters, not {len(iban)}"
    # 00, 01 and 99 never result from computing check digits, yet 99 passes mod 97 where 02 would.
    if iban[2:4] in ("00", "01", "99") or _mod97(iban[4:] + iban[:4]) != 1:
        return "the IBAN check digits do not match"
    return None


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country` + digits + `bban` a valid IBAN."""
    return f"{98 - _mod97(bban + country + '00'):02d}"


def bic_problem(bic: str) -> str | None:
    """Why `bic` is not a BIC of 8 or 11 characters, or None."""
    if len(bic) not in (8, 11):
        return "a BIC has 8 or 11 characters"
    if not _BIC.fullmatch(bic):
        return "a BIC is 4 letters or digits, a 2-letter country, then 2 (and 3) letters or digits"
    return None


def office_bic(bic: str) -> str:
    """`bic` in its 11-character form, so that one office has one key: a BIC of 8 characters
    names the primary office, which is the same as the 8 characters followed by XXX."""
    return bic + PRIMARY_OFFICE if len(bic) == 8 else bic


def _mod97(text: str) -> int:
    # Letters count as two digits, A = 10 ... Z = 35 (ISO 7064 MOD 97-10).
    return int("".join(str(int(ch, 36)) for ch in text)) % 97
