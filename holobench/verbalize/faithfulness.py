"""Faithfulness: every non-null cell value of a row must be recoverable from its sentence.

The check is deliberately literal.  A value counts as present when its normalised form occurs
in the normalised sentence:

* text: case-folded, Unicode NFKC, whitespace collapsed, compared as a substring;
* numbers: any number written in the sentence (thousands separators, a currency sign, a
  percent sign allowed) equal to the value (floats within a relative 1e-9);
* dates and timestamps: ISO form ("2009-01-01") or the filters' prose form ("January 1, 2009",
  also "1 January 2009" and abbreviated months); a timestamp with a time of day also needs
  "HH:MM";
* flags ('Y'/'N', booleans): the value itself or the words yes/no, true/false as whole words.

A sentence must also be one line: no newline or carriage return anywhere.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from holobench.verbalize.filters import MONTHS

_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FLAGS = {
    "y": ("yes", "y"),
    "n": ("no", "n"),
    "yes": ("yes",),
    "no": ("no",),
    "true": ("true", "yes"),
    "false": ("false", "no"),
    "t": ("true", "yes", "t"),
    "f": ("false", "no", "f"),
}


@dataclass(frozen=True)
class Missing:
    """One value that its sentence does not carry."""

    table: str
    row: int
    column: str
    value: Any
    sentence: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row}: column {self.column!r} value {self.value!r} not found in: {self.sentence}"


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split())


def numbers_in(sentence: str) -> list[float]:
    found: list[float] = []
    for match in _NUMBER.finditer(sentence):
        token = match.group(0).replace(",", "").replace("−", "-")
        try:
            found.append(float(token))
        except ValueError:
            continue
    return found


def _number_present(value: float, numbers: list[float]) -> bool:
    for candidate in numbers:
        if candidate == value or math.isclose(candidate, value, rel_tol=1e-9, abs_tol=1e-12):
            return True
    return False


def _date_forms(d: dt.date) -> list[str]:
    month = MONTHS[d.month - 1].casefold()
    short = month[:3]
    return [
        d.isoformat(),
        f"{month} {d.day}, {d.year}",
        f"{month} {d.day} {d.year}",
        f"{d.day} {month} {d.year}",
        f"{short} {d.day}, {d.year}",
        f"{short}. {d.day}, {d.year}",
        f"{d.day} {short} {d.year}",
    ]


def _datetime_present(value: dt.datetime | dt.date, text: str) -> bool:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not any(form in text for form in _date_forms(day)):
        return False
    if isinstance(value, dt.datetime) and (value.hour, value.minute, value.second) != (0, 0, 0):
        clock = f"{value.hour:02d}:{value.minute:02d}"
        short_clock = f"{value.hour}:{value.minute:02d}"
        return clock in text or f" {short_clock}" in text
    return True


def _parse_iso(value: str) -> dt.datetime | dt.date | None:
    text = value.strip().replace("T", " ").removesuffix("Z")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", text):
        return None
    try:
        return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError:
        return None


class Prepared:
    """A sentence normalised once, with its numbers parsed on first use."""

    def __init__(self, sentence: str) -> None:
        self.text = normalise_text(sentence)
        self._numbers: list[float] | None = None

    @property
    def numbers(self) -> list[float]:
        if self._numbers is None:
            self._numbers = numbers_in(self.text)
        return self._numbers


def value_present(value: Any, sentence: str | Prepared) -> bool:
    """Whether ``value`` can be recovered from ``sentence`` (see the module docstring)."""
    if value is None:
        return True
    prepared = sentence if isinstance(sentence, Prepared) else Prepared(sentence)
    text = prepared.text
    if isinstance(value, bool):
        words = ("true", "yes") if value else ("false", "no")
        return any(re.search(rf"\b{w}\b", text) for w in words)
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return "nan" in text
        return _number_present(float(value), prepared.numbers)
    if isinstance(value, dt.datetime | dt.date):
        return _datetime_present(value, text)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M") in text
    raw = str(value)
    needle = normalise_text(raw)
    if not needle:
        return True  # an empty string carries no information to lose
    if needle in text:
        return True
    flag = _FLAGS.get(needle)
    if flag is not None:
        return any(re.search(rf"\b{re.escape(w)}\b", text) for w in flag)
    parsed = _parse_iso(raw)
    if parsed is not None:
        return _datetime_present(parsed, text)
    return False


def check_sentence(table: str, row_index: int, row: dict[str, Any], sentence: str) -> list[Missing]:
    """Every value of ``row`` missing from ``sentence``; a newline counts as a failure too."""
    problems: list[Missing] = []
    if "\n" in sentence or "\r" in sentence:
        problems.append(Missing(table, row_index, "<sentence>", "newline", sentence))
    if not sentence.strip():
        problems.append(Missing(table, row_index, "<sentence>", "empty sentence", sentence))
    prepared = Prepared(sentence)
    for column, value in row.items():
        if not value_present(value, prepared):
            problems.append(Missing(table, row_index, column, value, sentence))
    return problems
