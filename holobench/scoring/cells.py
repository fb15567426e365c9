"""Gold cells and answer items, each read once into the forms the matcher compares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from holobench.scoring.extract import plain
from holobench.scoring.values import (
    Number,
    dates_in,
    normalize_text,
    number_matches,
    numbers_in,
    parse_iso,
    parse_number,
    times_in,
)


@dataclass(frozen=True)
class Item:
    text: str
    norm: str
    numbers: tuple[Number, ...]
    dates: frozenset[date] = frozenset()
    times: frozenset[tuple[int, int, int]] = frozenset()

    @staticmethod
    def of(text: str) -> Item:
        return _read_item(text)


@lru_cache(maxsize=4096)
def _read_item(text: str) -> Item:
    """Read once: a line is read again as a clause, a sentence and an item, and replies repeat."""
    text = plain(text)
    norm = normalize_text(text)
    bare = _POSSESSIVE.sub(r"\1", text)  # "the BBWAA's lowest" names BBWAA
    if bare != text:
        norm = f"{norm} {normalize_text(bare)}"
    return Item(text, f" {norm} ", tuple(numbers_in(text)), frozenset(dates_in(text)), frozenset(times_in(text)))


_POSSESSIVE = re.compile(r"(\w)['\u2019]s\b")


class Cell:
    """One gold cell, prepared once so matching against many items stays cheap."""

    def __init__(self, value: Any, rel_tol: float, decimals: int | None = None) -> None:
        self.value = value
        self.rel_tol = rel_tol
        self.decimals = decimals  # the query rounds this column to so many decimals
        self.number: float | None = None
        self.exact = False
        self.norm = ""
        self.when: tuple[date, tuple[int, int, int] | None] | None = None
        self.boolean: bool | None = None
        self.longer: tuple[str, ...] = ()  # other gold values that contain this one ("AAC audio file")
        if isinstance(value, bool):
            self.boolean = value
        elif isinstance(value, int):
            self.number, self.exact = float(value), True
        elif isinstance(value, float):
            self.number = value
        elif isinstance(value, str):
            self.when = parse_iso(value)
            if self.when is None:
                self.number = parse_number(value)
                if self.number is not None:
                    self.exact = re.fullmatch(r"\s*[-+]?\d+\s*", value) is not None
            self.norm = normalize_text(value)
        elif value is not None:
            self.norm = normalize_text(str(value))
        words = self.norm.split()
        self.joined = "".join(words) if 1 < len(words) <= 3 and all(w.isalpha() for w in words) else None
        # "Negro League" written "Negro Leagues" (a name of one word, "Brooks", keeps its s)
        self.plural = ""
        if self.names and self.when is None and len(words) > 1 and words[-1].isalpha() and len(words[-1]) > 3:
            self.plural = self.norm[:-1] if self.norm.endswith("s") else self.norm + "s"

    @property
    def ignored(self) -> bool:
        return self.value is None

    @property
    def key(self) -> tuple[object, ...]:
        """Equal for cells that read as the same value (``0`` and ``0.0``, ``"Rock"`` and ``"ROCK"``)."""
        if self.when is not None:
            return ("date", self.when)
        if self.number is not None:
            return ("number", self.number)
        if self.boolean is not None:
            return ("bool", self.boolean)
        return ("text", self.norm)

    @property
    def names(self) -> bool:
        """Text and dates say which record a clause is about; numbers and booleans do not."""
        return self.when is not None or (self.number is None and self.boolean is None and bool(self.norm))

    def found_in(self, item: Item) -> bool:
        if self.boolean is not None:
            words = set(item.norm.split())
            return bool(words & ({"true", "yes"} if self.boolean else {"false", "no"}))
        if self.when is not None:
            day, clock = self.when
            if day not in item.dates:
                return False
            return clock is None or clock == (0, 0, 0) or clock in item.times
        if self.number is not None:
            if number_matches(self.number, self.exact, item.numbers, self.rel_tol, self.decimals):
                return True
            if not self.norm or not isinstance(self.value, str):
                return False
        if not self.norm:
            return isinstance(self.value, str) and self.value.strip().casefold() in item.text.casefold()
        text = item.norm
        for value in self.longer:  # "AAC audio file" inside "Purchased AAC audio file" is not it
            text = text.replace(f" {value} ", " ")
        if f" {self.norm} " in text:
            return True
        # "La Guardia" written "LaGuardia"; "Negro League" written "Negro Leagues"
        return (self.joined is not None and f" {self.joined} " in text) or (
            bool(self.plural) and f" {self.plural} " in text
        )
