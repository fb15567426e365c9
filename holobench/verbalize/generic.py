"""Schema-driven fallback sentence, so any Spider or user database works without templates."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from holobench.records import TableSchema


def code_fingerprint(*parts: str) -> str:
    """SHA-256 over source files (given by path) and settings: a verbalizer's identity."""
    digest = hashlib.sha256()
    for part in parts:
        path = Path(part)
        digest.update(path.read_bytes() if part.endswith(".py") and path.is_file() else part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def humanize(name: str) -> str:
    """'birth_date' / 'birthDate' / 'BirthDate' -> 'birth date'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("_", " ").replace(".", " "))
    return " ".join(spaced.split()).lower() or name


def singular(name: str) -> str:
    words = humanize(name)
    if words.endswith("ies") and len(words) > 4:
        return words[:-3] + "y"
    if words.endswith("s") and not words.endswith("ss") and len(words) > 3:
        return words[:-1]
    return words


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


class GenericVerbalizer:
    """'Wine record: no is 1, grape is Zinfandel, ..., and drink is now.'"""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self.name = "generic"
        self._subject = singular(schema.name).capitalize()
        self._labels = [humanize(c) for c in schema.column_names]

    def sentence(self, row: Mapping[str, Any]) -> str:
        parts = []
        for label, column in zip(self._labels, self.schema.column_names, strict=True):
            value = row[column]
            parts.append(f"{label} is not recorded" if value is None else f"{label} is {render_value(value)}")
        if len(parts) == 2:
            return f"{self._subject} record: {parts[0]} and {parts[1]}."
        if len(parts) > 2:
            parts[-1] = "and " + parts[-1]
        return f"{self._subject} record: {', '.join(parts)}."

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        return [self.sentence(r) for r in rows]

    def fingerprint(self) -> str | None:
        return code_fingerprint(__file__, self.schema.model_dump_json())
