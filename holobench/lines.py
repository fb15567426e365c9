"""Candidate lines: a row's sentence with its token counts, and the seeded helpers that order them."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from holobench.database import Database
from holobench.records import LineSource
from holobench.token_cache import table_lines
from holobench.tokenizers import Tokenizer

SEPARATOR = "\n"
T = TypeVar("T")
_SOURCES: dict[tuple[str, str, int, bool, str, bool | None], LineSource] = {}
_SOURCES_MAX = 1_000_000


@dataclass(frozen=True)
class Line:
    """A candidate line: where it comes from, its text and its token counts."""

    db: str
    table: str
    row: int
    text: str
    tokens: int  # the line alone (when it is the last line)
    tokens_sep: int  # the line followed by the separator

    def source(self, relevant: bool, home: str, answer: bool | None = None) -> LineSource:
        """The line's provenance record; records are frozen, so one is shared by every instance."""
        key = (self.db, self.table, self.row, relevant, home, answer)
        found = _SOURCES.get(key)
        if found is None:
            # Trusted internal values: skip validation, which costs more than the rest of the record.
            found = LineSource.model_construct(
                table=self.table,
                row=self.row,
                relevant=relevant,
                db=None if self.db == home else self.db,
                answer=answer,
            )
            if len(_SOURCES) >= _SOURCES_MAX:
                _SOURCES.clear()
            _SOURCES[key] = found
        return found


def seeded_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class TableLines:
    """Sentences and token counts of every row of a database's tables, computed once."""

    def __init__(self, db: Database, tokenizer: Tokenizer) -> None:
        self.db = db
        self.tokenizer = tokenizer
        self._cache: dict[str, list[Line]] = {}

    def lines(self, table: str) -> list[Line]:
        name = self.db.table_name(table)
        if name not in self._cache:
            texts, alone, with_sep = table_lines(self.db, name, self.tokenizer, SEPARATOR)
            self._cache[name] = [
                Line(self.db.db_id, name, i, t, a, s)
                for i, (t, a, s) in enumerate(zip(texts, alone, with_sep, strict=True))
            ]
        return self._cache[name]


def round_robin(queues: Sequence[Sequence[T]]) -> list[T]:
    """The first item of each queue, then the second of each, and so on (queues may differ in length)."""
    out: list[T] = []
    depth = 0
    while any(depth < len(q) for q in queues):
        out.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return out


def take(candidates: Sequence[Line], budget: int) -> tuple[list[Line], int]:
    """Lines in order while the next one fits in ``budget`` (counting each with its separator)."""
    taken: list[Line] = []
    used = 0
    for line in candidates:
        if used + line.tokens_sep > budget:
            break
        taken.append(line)
        used += line.tokens_sep
    return taken, used
