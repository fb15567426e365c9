"""Map declared column types to DuckDB types and coerce SQLite's dynamically typed values.

Policy (documented in the README): a column keeps its declared type when every non-null value
converts to it without loss ('93' -> 93, 93.0 -> 93, '' -> NULL for non-text columns, since
real Spider files use '' where NULL was meant).  If any value cannot be converted, the whole
column is loaded as VARCHAR with each value in SQLite's own text form, and the database records
a note; no value is ever dropped or silently changed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from holobench.sql import blob_text

_INT_RE = re.compile(r"[-+]?\d+")
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z)?")


class Uncoercible(ValueError):
    """A value that does not fit its column's type."""


def declared_to_duckdb(declared: str) -> str | None:
    """DuckDB type for a declared SQLite type, following SQLite's affinity rules.

    Returns None for "infer from the values" (no declared type, or NUMERIC affinity).
    """
    d = declared.upper().strip()
    if not d:
        return None
    if d in {"DATE"}:
        return "DATE"
    if "TIMESTAMP" in d or "DATETIME" in d:
        return "TIMESTAMP"
    if "BOOL" in d:
        return "BOOLEAN"
    if "INT" in d:
        return "BIGINT"
    if any(k in d for k in ("CHAR", "CLOB", "TEXT", "STRING")):
        return "VARCHAR"
    if "BLOB" in d:
        return "VARCHAR"
    if any(k in d for k in ("REAL", "FLOA", "DOUB")):
        return "DOUBLE"
    return None  # NUMERIC, DECIMAL, NUMBER, TIME, ...: infer


def infer_type(values: Sequence[Any]) -> str:
    """Narrowest of BIGINT, DOUBLE, VARCHAR that holds every value (NUMERIC-affinity columns)."""
    kind = "BIGINT"
    for v in values:
        if v is None or (isinstance(v, str) and v.strip() == ""):
            continue
        if isinstance(v, bool | int):
            continue
        if isinstance(v, float):
            if not v.is_integer():
                kind = "DOUBLE"
            continue
        if isinstance(v, str):
            s = v.strip()
            if _INT_RE.fullmatch(s):
                continue
            if _FLOAT_RE.fullmatch(s):
                kind = "DOUBLE"
                continue
        return "VARCHAR"
    return kind


def sqlite_text(value: Any) -> str:
    """The text SQLite's CAST(x AS TEXT) gives, so VARCHAR fallbacks compare like SQLite."""
    if isinstance(value, bytes):
        return blob_text(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("e" in text or "." in text or "n" in text) else text + ".0"
    return str(value)


def coerce(value: Any, duck_type: str) -> Any:
    """Convert one value to ``duck_type`` or raise Uncoercible."""
    if value is None:
        return None
    if duck_type == "VARCHAR":
        return value if isinstance(value, str) else sqlite_text(value)
    if isinstance(value, str) and value.strip() == "":
        return None
    if duck_type == "BIGINT":
        return _to_int(value)
    if duck_type == "DOUBLE":
        return _to_float(value)
    if duck_type == "BOOLEAN":
        return _to_bool(value)
    if duck_type == "DATE":
        return _to_date(value)
    if duck_type == "TIMESTAMP":
        return _to_timestamp(value)
    raise Uncoercible(f"unknown type {duck_type}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    raise Uncoercible(repr(value))


def _to_float(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
        return float(value.strip())
    raise Uncoercible(repr(value))


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"0", "1", "true", "false", "t", "f"}:
        return value.strip().lower() in {"1", "true", "t"}
    raise Uncoercible(repr(value))


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise Uncoercible(repr(value))
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        s = value.strip()
        if _DATE_RE.fullmatch(s):
            try:
                return dt.date.fromisoformat(s)
            except ValueError as exc:
                raise Uncoercible(repr(value)) from exc
        if _TS_RE.fullmatch(s):
            ts = _to_timestamp(s)
            if ts.time() == dt.time(0):
                return ts.date()
    raise Uncoercible(repr(value))


def _to_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        s = value.strip().removesuffix("Z")
        if _DATE_RE.fullmatch(s) or _TS_RE.fullmatch(s):
            try:
                return dt.datetime.fromisoformat(s.replace("T", " "))
            except ValueError as exc:
                raise Uncoercible(repr(value)) from exc
    raise Uncoercible(repr(value))


def coerce_column(values: Sequence[Any], declared: str) -> tuple[str, list[Any], str | None]:
    """Type one column: (duckdb type, coerced values, note if the declared type was abandoned)."""
    duck = declared_to_duckdb(declared) or infer_type(values)
    try:
        return duck, [coerce(v, duck) for v in values], None
    except Uncoercible as exc:
        if duck == "VARCHAR":  # pragma: no cover - VARCHAR accepts everything
            raise
        note = f"declared {declared or 'no type'} but holds {exc}; loaded as VARCHAR"
        return "VARCHAR", [coerce(v, "VARCHAR") for v in values], note
