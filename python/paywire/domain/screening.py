"""Screening rules: sanctioned names and BICs, and per-currency amount limits.

A hit sends a payment to HELD for a compliance decision. docs/DATABASE.md describes the CSV.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from paywire.domain.identifiers import bic_problem
from paywire.domain.money import format_amount
from paywire.domain.payment import Payment

SANCTIONS_HIT = "SANCTIONS_HIT"
AMOUNT_LIMIT = "AMOUNT_LIMIT"
_HEADER = ("type", "value", "source")
_SPACES = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """Casefolded, accents and punctuation removed, whitespace collapsed: "Société  Générale,
    S.A." and "societe generale s a" compare equal."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = (
        " " if unicodedata.category(ch)[0] in "PSZC" else ch
        for ch in decomposed
        if unicodedata.category(ch) != "Mn"
    )
    return _SPACES.sub(" ", "".join(kept)).strip()


@dataclass(frozen=True, slots=True)
class Hit:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ScreeningRules:
    """Sanctioned names (normalised) and BICs, each with its source list, and amount limits."""

    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    bics: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    limits: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    name_words: int = 0  # words in the longest sanctioned name

    def screen(self, payment: Payment) -> list[Hit]:
        """Every rule the payment hits; an empty list lets it through."""
        hits = []
        for role, party in (("debtor", payment.debtor), ("creditor", payment.creditor)):
            source = self._name_source(normalise_name(party.name))
            if source is not None:
                hits.append(Hit(SANCTIONS_HIT, f"{role} name matches an entry of {source}"))
        agent = payment.creditor.agent_bic
        source = self._bic_source(agent) if agent else None
        if source is not None:
            hits.append(Hit(SANCTIONS_HIT, f"creditor agent {agent} matches an entry of {source}"))
        limit = self.limits.get(payment.currency)
        if limit is not None and payment.amount > limit:
            hits.append(
                Hit(
                    AMOUNT_LIMIT,
                    f"{format_amount(payment.amount, payment.currency)} {payment.currency} "
                    f"exceeds the limit of {limit} {payment.currency}",
                )
            )
        return hits

    def _name_source(self, name: str) -> str | None:
        # A sanctioned name matches the whole name or a run of whole words within it; runs are
        # looked up rather than entries scanned, so a long list costs no more than a short one.
        words = name.split(" ")
        longest = min(self.name_words, len(words))
        for start in range(len(words)):
            for end in range(start + 1, min(start + longest, len(words)) + 1):
                source = self.names.get(" ".join(words[start:end]))
                if source is not None:
                    return source
        return None

    def _bic_source(self, bic: str) -> str | None:
        # An 8-character entry covers every branch of the institution; an 11-character one its
        # branch, where XXX (the head office) is also written as the bare 8 characters.
        office = bic if len(bic) == 11 else bic + "XXX"
        return self.bics.get(bic[:8]) or self.bics.get(office)


def summarise(hits: list[Hit]) -> tuple[str, str]:
    """One reason for a payment with hits: sanctions outrank limits; the texts are joined."""
    code = SANCTIONS_HIT if any(h.code == SANCTIONS_HIT for h in hits) else AMOUNT_LIMIT
    return code, "; ".join(h.text for h in hits)


def parse_sanctions_csv(
    content: str, limits: Mapping[str, Decimal] | None = None
) -> ScreeningRules:
    """Rules from CSV text `type,value,source` (type NAME or BIC); ValueError names the line."""
    lines = [line for line in content.splitlines() if not line.lstrip().startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != _HEADER:
        raise ValueError(f"the first row must be the header {','.join(_HEADER)}")
    names: dict[str, str] = {}
    bics: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(_HEADER):
            raise ValueError(f"row {number}: expected {len(_HEADER)} columns, got {len(row)}")
        kind, value, source = (cell.strip() for cell in row)
        source = source or "the sanctions list"
        if kind.upper() == "NAME":
            normalised = normalise_name(value)
            if not normalised:
                raise ValueError(f"row {number}: the name is empty once normalised")
            names[normalised] = source
        elif kind.upper() == "BIC":
            problem = bic_problem(value.upper())
            if problem is not None:
                raise ValueError(f"row {number}: {problem}")
            bics[value.upper()] = source
        else:
            raise ValueError(f"row {number}: type must be NAME or BIC, not {kind!r}")
    return ScreeningRules(
        names=MappingProxyType(names),
        bics=MappingProxyType(bics),
        limits=MappingProxyType(dict(limits or {})),
        name_words=max((name.count(" ") + 1 for name in names), default=0),
    )
