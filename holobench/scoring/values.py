"""Reading values out of free text: numbers in their many formats, dates, times and normalised words.

The scorer compares gold cells with what a model wrote, so every reading here errs towards what a
careful human grader would accept (``$1,297.00`` is 1297, ``5 Jan 2013`` is 2013-01-05) without
accepting a different value (a count that is off by one is wrong).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

_NUMBER = re.compile(
    r"""
    (?<![\w.])                                  # not glued to a word or another number
    (?P<sign>[-\u2212+])?
    (?P<cur>[$\u20ac\u00a3\u00a5]\s?)?          # currency symbol
    (?P<int>\d{1,3}(?:,\d{3})+|\d+)            # 1,297 or 1297
    (?P<frac>\.\d+)?
    (?P<exp>[eE][-+]?\d+)?
    (?P<mag>\s(?:thousand|million|billion|trillion)|(?:[kKmMbB]|bn|mn))?  # 36.5 million, $24.86M
    (?P<pct>\s?%)?
    (?![\w])
    """,
    re.VERBOSE,
)
# A number written with a leading dot (".5"), which the main pattern does not read.
_BARE_FRACTION = re.compile(r"(?<![\w.])(?P<sign>-)?\.(?P<frac>\d+)(?P<pct>\s?%)?(?![\w])")

_WORDS = {
    "zero": 0,
    "none": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_MAGNITUDES = {"k": 3, "thousand": 3, "m": 6, "mn": 6, "million": 6, "b": 9, "bn": 9, "billion": 9, "trillion": 12}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
# "with no ballots", "no ballot counts": a count of zero (a plural noun after "no", or one word
# later; "No answer" and "no answer is given" are not one)
_NO_COUNT = re.compile(
    r"\bno\s+(?:[a-z]+\s+)?(?!(?:is|was|has|as|its|this|does|thus|plus|less|unless|across|yes|us|exists|remains|appears|applies|matches|contains|seems|means|gives)\b)[a-z]+s\b",
    re.IGNORECASE,
)

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)"),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b", re.IGNORECASE),
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<year>\d{4})\b", re.IGNORECASE),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})\b"),
]
_TIME = re.compile(r"(?<!\d)(?P<h>\d{1,2}):(?P<min>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*$")


# Letters that NFKD does not split into a base letter and a mark.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",  # Egilsstaðir is written Egilsstadir
        "Ð": "D",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ĸ": "k",
        "ı": "i",
    }
)
# Words that data abbreviates and people write out (FAA names, companies, titles): one form for
# both, so "Denver International" is "Denver Intl" and "Eagle County Regional" "Eagle Co Rgnl".
_SHORT = {
    "international": "intl",
    "regional": "rgnl",
    "county": "co",
    "cnty": "co",
    "company": "co",
    "saint": "st",
    "street": "st",
    "fort": "ft",
    "mount": "mt",
    "national": "natl",
    "municipal": "muni",
    "airport": "arpt",
    "field": "fld",
    "memorial": "mem",
    "incorporated": "inc",
    "corporation": "corp",
    "limited": "ltd",
    "junior": "jr",
    "senior": "sr",
    "avenue": "ave",
    "university": "univ",
    "brothers": "bros",
    "part": "pt",
}
_LONG_WORD = re.compile(r"\b(?:" + "|".join(sorted(_SHORT, key=len, reverse=True)) + r")\b")
_NON_WORD = re.compile(r"[\W_]+")
_ASCII_APOSTROPHES = str.maketrans("", "", "'`")
_APOSTROPHES = frozenset("'\u2019\u02bc`")


@dataclass(frozen=True)
class Number:
    value: float
    decimals: int  # digits shown after the decimal point (negative: 5.59e11 shows down to 1e9)
    percent: bool
    #: significant digits shown, when written with a magnitude ("$24.86M": 4); 0 otherwise
    scaled: int = 0


def normalize_text(text: str) -> str:
    """Casefolded words without accents or punctuation, common abbreviations in one form:
    ``"Zé's  AC/DC"`` -> ``"ze s ac dc"``, ``"Eagle County Regional"`` -> ``"eagle co rgnl"``."""
    if text.isascii():  # most text: nothing to decompose
        stripped = text.translate(_ASCII_APOSTROPHES)
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c) and c not in _APOSTROPHES)
    words = " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())
    return _LONG_WORD.sub(lambda m: _SHORT[m.group(0)], words)


def numbers_in(text: str) -> list[Number]:
    """Every number written in ``text``, digits or small number words."""
    found: list[Number] = []
    for m in _NUMBER.finditer(text):
        digits = m.group("int").replace(",", "") + (m.group("frac") or "") + (m.group("exp") or "")
        try:
            value = float(digits)
        except ValueError:  # pragma: no cover - the pattern only admits valid numbers
            continue
        if m.group("sign") in ("-", "\u2212"):
            value = -value
        decimals = len(m.group("frac") or ".") - 1
        if m.group("exp"):  # 5.59e11 shows its digits down to 1e9: -9 decimals
            decimals -= int(m.group("exp")[1:])
        scaled = 0
        if m.group("mag"):
            written = m.group("mag").strip()
            if written in ("m", "b") and not m.group("cur"):
                continue  # "5m" is five metres or minutes; "5M", "$5m" and "5 million" are amounts
            word = written.lower()
            power = _MAGNITUDES[word]
            # parsed as 36.5e6, since 36.5 * 10**6 is 36499999.999999996
            exact = float(f"{digits}e{power}") if not m.group("exp") else abs(value) * 10**power
            value, decimals = math.copysign(exact, value), decimals - power
            scaled = len((m.group("int") + (m.group("frac") or "")[1:]).replace(",", "").lstrip("0"))
        found.append(Number(value, decimals, bool(m.group("pct")), scaled))
    for m in _BARE_FRACTION.finditer(text):
        value = float("0." + m.group("frac")) * (-1 if m.group("sign") else 1)
        found.append(Number(value, len(m.group("frac")), bool(m.group("pct"))))
    for m in _NUMBER_WORD.finditer(text):
        found.append(Number(float(_WORDS[m.group(1).lower()]), 0, False))
    for _ in _NO_COUNT.finditer(text):
        found.append(Number(0.0, 0, False))
    return found


def parse_number(text: str) -> float | None:
    """The value of a cell that is a number written as text (``"2013"``, ``"12.50"``), else None."""
    stripped = text.strip()
    if not re.fullmatch(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?", stripped):
        return None
    return float(stripped)


def parse_iso(text: str) -> tuple[date, tuple[int, int, int] | None] | None:
    """A gold cell that is an ISO date or timestamp: (date, (h, m, s) or None)."""
    m = _ISO_DATE.match(text)
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    if m.group(4) is None:
        return day, None
    return day, (int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def dates_in(text: str) -> set[date]:
    """Dates written as ISO, ``January 5, 2013``, ``5 Jan 2013`` or ``01/05/2013`` (both readings)."""
    found: set[date] = set()
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            year = int(groups["year"])
            candidates: list[date | None]
            if groups.get("month"):
                candidates = [_date(year, _MONTHS[groups["month"].lower()], int(groups["day"]))]
            elif groups.get("m"):
                candidates = [_date(year, int(groups["m"]), int(groups["day"]))]
            else:
                a, b = int(groups["a"]), int(groups["b"])
                candidates = [_date(year, a, b), _date(year, b, a)]
            found.update(d for d in candidates if d is not None)
    return found


def times_in(text: str) -> set[tuple[int, int, int]]:
    found: set[tuple[int, int, int]] = set()
    for m in _TIME.finditer(text):
        hour, minute, second = int(m.group("h")), int(m.group("min")), int(m.group("s") or 0)
        ampm = (m.group("ampm") or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60 and second < 60:
            found.add((hour, minute, second))
    return found


def number_matches(
    gold: float, exact: bool, candidates: Sequence[Number], rel_tol: float, rounded_to: int | None = None
) -> bool:
    """Integers must be equal. Other numbers agree when the answer shows the gold rounded to its
    decimals, or when they are within ``rel_tol`` and every digit the answer shows is right but
    the last, which may be one off (``4.38`` for 4.386, not ``97.9`` for 97.2); digits past the
    fourth significant one are not read (``58.6431`` for 58.6428). When the query rounds the
    column (``rounded_to`` decimals), the answer must give that rounding: ``205`` is too coarse
    for 204.7, and ``5.43`` is not 5.44 (the question asked for it rounded, not cut)."""
    for n in candidates:
        if rounded_to is not None and n.decimals < rounded_to and n.value != gold and not n.percent:
            continue
        for value in (n.value, n.value / 100) if n.percent else (n.value,):
            if exact:
                if value == gold:
                    return True
                # "$24.86M" for 24,857,142: a large amount rounded to the digits shown (three or
                # more; "1.3 thousand" is not a count of 1297)
                if n.scaled >= 3 and abs(value - gold) <= 0.5 * 10**-n.decimals * (1 + 1e-9):
                    return True
                continue
            shown = n.decimals if not (n.percent and value != n.value) else n.decimals + 2
            gap = abs(value - gold)
            if gap <= 1e-12 or (n.decimals >= 1 and gap <= 0.5 * 10**-shown + 1e-12):
                return True
            if rounded_to is not None or not math.isclose(value, gold, rel_tol=rel_tol, abs_tol=1e-9):
                continue
            if gold == 0 or gap <= max(10**-shown, 10 ** (math.floor(math.log10(abs(gold))) - 3)) + 1e-12:
                return True
    return False
