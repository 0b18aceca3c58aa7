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

from paywire.domain.identifiers import bic_problem, office_bic
from paywire.domain.money import format_amount
from paywire.domain.payment import Payment
from paywire.domain.validation import BLANKS

SANCTIONS_HIT = "SANCTIONS_HIT"
AMOUNT_LIMIT = "AMOUNT_LIMIT"
_HEADER = ("type", "value", "source")
# Names with fewer letters and digits than this ("S.A.", an initial, a name of two characters
# in its own script) hit only a whole name equal to them: as a run of words, or spelt by one,
# they would hold every payment whose name holds them.
WHOLE_ONLY_BELOW = 3
# Listed names of at most this many words also hit in another word order (personal names, and
# "LAST, First" lists). Every run sorted against longer entries would cost milliseconds per name
# of many short words, on the event loop.
REORDERED_WORDS = 4
_SPACES = re.compile(r"\s+")
# In ASCII, what is not a letter or a digit is punctuation, a symbol, a space or a control.
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")
# The Greek and Cyrillic blocks (with Greek Extended and the Cyrillic supplements and
# extensions): the scripts whose letters are matched in small letters as well (`name_keys`).
_GREEK_OR_CYRILLIC = re.compile(
    "[\u0370-\u03ff\u1f00-\u1fff\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]"
)

# The letters of Cyrillic and Greek that Unicode's confusables.txt (UTS #39) gives as one Latin
# letter, each folded to the letter it imitates in its own case: the Greek capital nu is N, its
# small letter v; and the small letters drawn as a Latin small capital (Cyrillic к м н т в, Greek
# κ τ), as the Latin small capitals are folded (`_LATIN_LOOK_ALIKES`). The capitals that
# confusables.txt gives as l, as it does I (Greek iota, Cyrillic dotted I and palochka), are
# taken as I. Accented forms (U+0451, U+03CC) fold too,
# their accents being dropped first. Written as code points, as confusables.txt lists them:
# their glyphs would not tell them from the Latin letters.
_LOOK_ALIKES = {
    "A": "\u0410\u0391", "B": "\u0412\u0392", "C": "\u0421\u03f9", "E": "\u0415\u0395",
    "F": "\u03dc", "G": "\u050c", "H": "\u041d\u0397", "I": "\u0406\u04c0\u0399",
    "J": "\u0408\u037f", "K": "\u041a\u039a", "M": "\u041c\u039c\u03fa", "N": "\u039d",
    "O": "\u041e\u039f", "P": "\u0420\u03a1", "S": "\u0405", "T": "\u0422\u03a4", "V": "\u0474",
    "W": "\u051c", "X": "\u0425\u03a7", "Y": "\u0423\u04ae\u03a5", "Z": "\u0396",
    "a": "\u0430\u03b1", "b": "\u042c\u0432", "c": "\u0441\u03f2", "d": "\u0501",
    "e": "\u0435\u04bd", "h": "\u04bb\u043d", "i": "\u0456\u04cf\ua647\u03b9",
    "j": "\u0458\u03f3", "k": "\u043a\u03ba", "m": "\u043c", "o": "\u043e\u03bf\u03c3",
    "p": "\u0440\u03c1", "q": "\u051b", "r": "\u0433\u1d26", "s": "\u0455", "t": "\u0442\u03c4",
    "u": "\u03c5", "v": "\u0475\u03bd", "w": "\u051d\u0461", "x": "\u0445",
    "y": "\u0443\u04af\u03b3",
}  # fmt: skip
_LATIN_OF = {look_alike: latin for latin, chars in _LOOK_ALIKES.items() for look_alike in chars}
# Latin letters that NFKD leaves whole, being letters of their own and not a letter with a mark,
# each folded to how a list written in ASCII spells it: "Søren" is Soren, "Łukasz" Lukasz, "Þór"
# Thor, the African ɖ (whose capital Ɖ is drawn as Đ) d, and every letter with a stroke or a hook
# its letter: the hooked ɓ ɗ ƙ ƴ are Hausa's own, "Ɗanjuma" is Danjuma on a list. ß needs no
# entry: case folding makes it ss; nor ŀ, which NFKD makes l and a middle dot, so that "Paŀlars"
# reads as "Pal·lars" does. Written as code points, as _LOOK_ALIKES is.
_LATIN_SPELLINGS = {
    "ae": "\u00e6", "b": "\u0180\u0253", "c": "\u0188\u023c",
    "d": "\u0111\u00f0\u0256\u0257", "f": "\u0192", "g": "\u01e5", "h": "\u0127",
    "i": "\u0131\u0268", "j": "\u0249", "k": "\u0199", "l": "\u0142\u019a", "n": "\u0272",
    "o": "\u00f8", "oe": "\u0153", "r": "\u024d", "t": "\u0167\u01ad", "th": "\u00fe",
    "u": "\u0289", "y": "\u01b4\u024f", "z": "\u01b6\u0225",
}  # fmt: skip
# Latin letters that look like one letter of a-z (small capitals, IPA letters, kra, dotless j):
# entry takes them, being small letters (Ll), and they would hide a listed name as a Cyrillic
# letter does. Written as code points, as _LOOK_ALIKES is.
_LATIN_LOOK_ALIKES = {
    "a": "\u0251\u1d00", "b": "\u0299", "c": "\u1d04", "d": "\u1d05", "e": "\u1d07",
    "f": "\ua730", "g": "\u0261\u0262", "h": "\u029c", "i": "\u0269\u026a",
    "j": "\u1d0a\u0237", "k": "\u1d0b\u0138", "l": "\u029f", "m": "\u1d0d", "n": "\u0274",
    "o": "\u1d0f", "p": "\u1d18", "q": "\ua7af", "r": "\u0280", "s": "\ua731", "t": "\u1d1b",
    "u": "\u1d1c", "v": "\u1d20", "w": "\u1d21", "y": "\u028f", "z": "\u1d22",
}  # fmt: skip
# Both are folded after case folding, which first makes their capitals (Ø, Æ, the capital alpha
# U+2C6D) these small letters: no case of theirs looks like another letter, as the Greek nu's
# does. They only ever make more names match, never fewer: each replaces a letter where it
# stands, splitting or joining no word, so names that had one key still do, and a name that
# matches now as well is held for a compliance officer, not let through.
_LATIN_FOLDS = str.maketrans(
    {
        letter: latin
        for table in (_LATIN_SPELLINGS, _LATIN_LOOK_ALIKES)
        for latin, letters in table.items()
        for letter in letters
    }
)
# Modifier letters written as an apostrophe or a hyphen (U+02BC in "O'brien", U+02BF in
# "al-'Aziz", U+30FC in "Al-qaida"): letters to Unicode (Lm), which would join the words the
# ASCII apostrophe or hyphen separates.
_SEPARATING_LETTERS = "\u02b9\u02ba\u02bb\u02bc\u02bd\u02be\u02bf\u02c8\u30fc"
# What displays as a blank separates words, as a space does (entry refuses these, but a list or a
# payment entered before it did may hold them), and so do the letters above.
_FOLDS = str.maketrans(
    {**_LATIN_OF, **dict.fromkeys(BLANKS, " "), **dict.fromkeys(_SEPARATING_LETTERS, " ")}
)
# ASCII that confusables.txt (UTS #39) gives as other ASCII, once case is folded: l and 1 look
# like I, 0 like O, and rn like m ("lVAN DRAG0", "Kirn"). Folded alike in a listed name and a
# payment's, as every fold here: a name that matches now as well is held, not let through.
_ASCII_LOOK_ALIKES = str.maketrans({"l": "i", "1": "i", "0": "o"})
# The Enclosed Alphanumeric Supplement, where Unicode puts letters in frames: the circled and
# squared capitals NFKD reads as their letters, but not the negative circled and negative
# squared ones, the regional indicators (which pair into flags, and alone draw their letter)
# or the squared words (🆎 AB, 🆘 SOS). As symbols they were blanks, and a name written in them
# (partly) no name to screening. Each is read as what its Unicode name says it draws.
_ENCLOSED_SUPPLEMENT = range(0x1F100, 0x1F200)
_LETTER_NAMED = re.compile(r".*(?:LATIN (CAPITAL|SMALL)|SYMBOL) LETTER ([A-Z])")
_WORD_NAMED = re.compile(r"(?:NEGATIVE )?SQUARED ([A-Z]{2,})")


def _framed_letters() -> dict[str, str]:
    framed: dict[str, str] = {}
    for code in _ENCLOSED_SUPPLEMENT:
        ch = chr(code)
        if unicodedata.normalize("NFKD", ch) != ch:
            continue  # NFKD reads it already
        name = unicodedata.name(ch, "")
        if letter := _LETTER_NAMED.fullmatch(name):
            framed[ch] = letter[2].lower() if letter[1] == "SMALL" else letter[2]
        elif word := _WORD_NAMED.fullmatch(name):
            framed[ch] = word[1]
    return framed


_FRAMED_LETTERS = _framed_letters()
# Look-alikes that NFKD would turn into letters that look like nothing Latin (the Greek lunate
# sigma U+03F2, a c to the eye, into the final sigma), so they are folded before it, and the
# framed letters it would leave symbols.
_FOLDS_BEFORE_NFKD = str.maketrans(
    {
        **{ch: latin for ch, latin in _LATIN_OF.items() if unicodedata.normalize("NFKD", ch) != ch},
        **_FRAMED_LETTERS,
    }
)


def normalise_name(name: str) -> str:
    """A name reduced to what a reader sees in it, so that neither case, accents, punctuation, a
    Latin letter outside a-z (ø, a small capital) nor a letter of another script posing as a
    Latin one hides a listed name: "Société  Générale, S.A.", "societe generale s a" and the
    first with a Cyrillic o (U+043E) compare equal, as do "Søren" and "Soren"."""
    if name.isascii():
        # Most names are, and screening runs on every payment: the same result, in one pass.
        return _ASCII_SEPARATORS.sub(" ", name.lower()).strip()
    return _folded(_letters(name))


def name_keys(name: str) -> tuple[str, str | None]:
    """What a name is screened under, a listed name and a payment's alike: normalised as
    written, which catches a look-alike in whichever case imitates its Latin letter; and, for a
    name with Greek or Cyrillic letters, normalised in small letters, which keeps such a name
    matching in any case (the Greek capital nu looks like N, its small letter like v). The
    second key is compared only with the second keys of such names: a capital's small letter is
    not what a reader sees, so INA in Greek capitals must not match a listed "Iva"."""
    if name.isascii():
        return _skeleton(normalise_name(name)), None
    letters = _letters(name)
    small = _folded(letters.casefold()) if _GREEK_OR_CYRILLIC.search(name) else None
    return _skeleton(_folded(letters)), None if small is None else _skeleton(small)


def _skeleton(key: str) -> str:
    # What a normalised name is screened under, not what a reader sees: `_ASCII_LOOK_ALIKES`.
    return key.translate(_ASCII_LOOK_ALIKES).replace("rn", "m")


def _letters(name: str) -> str:
    # Compatibility forms decomposed (full-width, ligatures), every mark dropped (accents,
    # enclosing circles, spacing marks), what is not a letter or a digit made a space.
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLDS_BEFORE_NFKD))
    kept: list[str] = []
    for ch in decomposed:
        kind = unicodedata.category(ch)[0]
        if kind != "M":
            kept.append(" " if kind in "PSZC" else ch)
    return "".join(kept)


def _folded(letters: str) -> str:
    folded = letters.translate(_FOLDS).casefold().translate(_LATIN_FOLDS)
    return _SPACES.sub(" ", folded).strip()


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NameIndex:
    """Listed names under one kind of key (`name_keys`), each with its source list. A name
    matches a payment's name as written, by a run of whole words in it; word for word in
    another order ("PETROV, Ivan" for a listed "Ivan Petrov"), for names of up to
    `REORDERED_WORDS` words; or spelt by a run of words joined ("IvanPetrov", "Al Qaida" for a
    listed "Alqaida", "I v a n"). A name shorter than `WHOLE_ONLY_BELOW` matches only a whole
    name, however its letters are spaced ("S.A." is "SA", a name of two characters in its
    script is the same written with a space between them): `whole` is keyed by the letters
    alone. Runs are looked up rather than entries scanned, so a long list costs no more than a
    short one."""

    whole: Mapping[str, str] = field(default_factory=_empty)
    exact: Mapping[str, str] = field(default_factory=_empty)
    reordered: Mapping[str, str] = field(default_factory=_empty)
    joined: Mapping[str, str] = field(default_factory=_empty)
    words: int = 0  # in the longest name
    letters: int = 0  # in the longest name, spaces left out

    @classmethod
    def of(cls, names: Mapping[str, str]) -> NameIndex:
        short = {key for key in names if len(_joined(key)) < WHOLE_ONLY_BELOW}
        whole = {_joined(key): names[key] for key in short}
        runs = {key: source for key, source in names.items() if key not in short}
        joined = {_joined(key): source for key, source in runs.items()}
        return cls(
            whole=MappingProxyType(whole),
            exact=MappingProxyType(runs),
            reordered=MappingProxyType(
                {
                    " ".join(sorted(key.split(" "))): source
                    for key, source in runs.items()
                    if 1 < key.count(" ") + 1 <= REORDERED_WORDS
                }
            ),
            joined=MappingProxyType(joined),
            words=max((key.count(" ") + 1 for key in runs), default=0),
            letters=max(map(len, joined), default=0),
        )

    def __len__(self) -> int:
        return len(self.whole) + len(self.exact)

    def source(self, key: str) -> str | None:
        """The source list of the listed name `key` matches, or None."""
        source = self.whole.get(_joined(key)) if self.whole else None
        if source is not None:
            return source
        words = key.split(" ")
        for start in range(len(words)):
            for end in range(start + 1, min(start + self.words, len(words)) + 1):
                run = words[start:end]
                source = self.exact.get(" ".join(run))
                if source is None and 1 < len(run) <= REORDERED_WORDS:
                    source = self.reordered.get(" ".join(sorted(run)))
                if source is not None:
                    return source
            spelt = ""
            for word in words[start:]:
                # Its words are folded already; an r ending one and an n starting the next make
                # an rn once joined, as `_joined` folds it in a listed name.
                if spelt.endswith("r") and word.startswith("n"):
                    spelt = f"{spelt[:-1]}m{word[1:]}"
                else:
                    spelt += word
                if len(spelt) > self.letters:
                    break
                source = self.joined.get(spelt)
                if source is not None:
                    return source
        return None


def _joined(key: str) -> str:
    # Joined, a word's last r and the next one's first n are an rn too (`_skeleton`).
    return _skeleton(key.replace(" ", ""))


@dataclass(frozen=True, slots=True)
class Hit:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ScreeningRules:
    """Sanctioned names and BICs, each with its source list, and amount limits. `names` holds
    every listed name by its first name key, `script_names` the Greek and Cyrillic ones by
    their second (`name_keys`)."""

    names: NameIndex = field(default_factory=NameIndex)
    script_names: NameIndex = field(default_factory=NameIndex)
    bics: Mapping[str, str] = field(default_factory=_empty)
    limits: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def screen(self, payment: Payment) -> list[Hit]:
        """Every rule the payment hits; an empty list lets it through."""
        hits = []
        for role, party in (("debtor", payment.debtor), ("creditor", payment.creditor)):
            hit = self._name_hit(role, party.name)
            if hit is not None:
                hits.append(hit)
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

    def _name_hit(self, role: str, name: str) -> Hit | None:
        written, small = name_keys(name)
        if not written and len(self.names):
            # Symbols alone, which a reader may read as letters that no fold here knows yet:
            # nothing to compare, so nothing to clear, and a person reads it.
            return Hit(SANCTIONS_HIT, f"{role} name has no letter or digit screening can read")
        source = self.names.source(written)
        if source is None and small is not None:
            source = self.script_names.source(small)
        if source is None:
            return None
        return Hit(SANCTIONS_HIT, f"{role} name matches an entry of {source}")

    def _bic_source(self, bic: str) -> str | None:
        # An 8-character entry covers every branch of the institution; an 11-character one its
        # branch, the primary office's whether it is written with XXX or without.
        return self.bics.get(bic[:8]) or self.bics.get(office_bic(bic))


def summarise(hits: list[Hit]) -> tuple[str, str]:
    """One reason for a payment with hits: sanctions outrank limits; the texts are joined."""
    code = SANCTIONS_HIT if any(h.code == SANCTIONS_HIT for h in hits) else AMOUNT_LIMIT
    return code, "; ".join(h.text for h in hits)


def parse_sanctions_csv(
    content: str, limits: Mapping[str, Decimal] | None = None
) -> ScreeningRules:
    """Rules from CSV text `type,value,source` (type NAME or BIC); ValueError names the line."""
    lines = [line for line in content.splitlines() if not line.lstrip().startswith("#")]
    try:
        # Strict, and no value over two lines: a quote left open would otherwise take every
        # line after it into one value, and those entries would be lost without a word.
        rows = list(csv.reader(io.StringIO("\n".join(lines)), strict=True))
    except csv.Error as exc:
        raise ValueError(f"malformed CSV ({exc}): check its quotes") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != _HEADER:
        raise ValueError(f"the first row must be the header {','.join(_HEADER)}")
    names: dict[str, str] = {}
    script_names: dict[str, str] = {}
    bics: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(_HEADER):
            raise ValueError(f"row {number}: expected {len(_HEADER)} columns, got {len(row)}")
        if any("\n" in cell for cell in row):
            raise ValueError(f"row {number}: a value spans lines (a quote left open?)")
        kind, value, source = (cell.strip() for cell in row)
        source = source or "the sanctions list"
        if kind.upper() == "NAME":
            written, small = name_keys(value)
            if not written:
                raise ValueError(f"row {number}: the name is empty once normalised")
            names[written] = source
            if small is not None:
                script_names[small] = source
        elif kind.upper() == "BIC":
            problem = bic_problem(value.upper())
            if problem is not None:
                raise ValueError(f"row {number}: {problem}")
            bics[value.upper()] = source
        else:
            raise ValueError(f"row {number}: type must be NAME or BIC, not {kind!r}")
    return ScreeningRules(
        names=NameIndex.of(names),
        script_names=NameIndex.of(script_names),
        bics=MappingProxyType(bics),
        limits=MappingProxyType(dict(limits or {})),
    )
