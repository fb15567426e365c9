"""One exception hierarchy: every user-facing failure is a HoloBenchError with a one-line message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HoloBenchError(Exception):
    """Base class; the CLI prints the message on one line and exits non-zero."""


class SourceError(HoloBenchError):
    """A database source is missing, corrupt or inconsistent."""


class TemplateError(HoloBenchError):
    """A verbalization template cannot be loaded or rendered."""


class QueryError(HoloBenchError):
    """A query file or a single query is invalid."""


class FaithfulnessError(HoloBenchError):
    """A verbalization drops a cell value."""


def field_problem(error: Mapping[str, Any], default: str = "value") -> str:
    """One pydantic error as ``field 'a.b': got 'x': <message>``: the value the user wrote is
    shown (when it is short) so a typo can be found without opening the file."""
    loc = ".".join(str(p) for p in error.get("loc", ()) if not (isinstance(p, str) and p[:1].isupper())) or default
    given = error.get("input")
    shown = f"got {given!r}: " if isinstance(given, str | int | float | bool) and len(repr(given)) <= 60 else ""
    return f"field '{loc}': {shown}{error.get('msg', 'invalid')}"
