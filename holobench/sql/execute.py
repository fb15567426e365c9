"""Running SQL on DuckDB with SQLite's answers, and turning engine values into JSON values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
from sqlglot import exp

from holobench.errors import QueryError
from holobench.records import Result
from holobench.sql.analysis import Schema, output_columns, parse
from holobench.sql.rewrites import to_duckdb, with_tiebreak


def blob_text(value: bytes) -> str:
    """A BLOB as text, losing nothing: text stored as a BLOB (valid UTF-8, no control
    characters) reads as that text, as SQLite's CAST(x AS TEXT) gives it; anything else is
    written as SQLite's own blob literal, X'00ff...', instead of NUL bytes or U+FFFD in a sentence.

    >>> blob_text(b"Bonjour"), blob_text(b"\\x00\\x01\\xff")
    ('Bonjour', "X'0001ff'")
    """
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not any((ord(c) < 32 and c not in "\t\n") or 127 <= ord(c) < 160 for c in text):
        return text
    return f"X'{value.hex()}'"


def json_value(value: Any) -> Any:
    """JSON-native form of a DuckDB or SQLite value (dates as ISO strings, NULL as None)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return blob_text(bytes(value))
    return str(value)


def sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """A total order over JSON values: NULL < numbers < text < anything else (as in SQLite)."""
    key = []
    for v in row:
        if v is None:
            key.append((0, 0.0, ""))
        elif isinstance(v, int | float):
            key.append((1, float(v), ""))
        elif isinstance(v, str):
            key.append((2, 0.0, v))
        else:
            key.append((3, 0.0, str(v)))
    return tuple(key)


def finish_rows(tree: exp.Query, raw: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """JSON values; unordered results sorted by all columns so every run lists them alike."""
    rows = [[json_value(v) for v in r] for r in raw]
    if tree.args.get("order") is None:
        rows.sort(key=sort_key)
    return rows


def execute_duckdb(
    con: duckdb.DuckDBPyConnection, sql: str | exp.Query, schema: Schema, dialect: str = "sqlite"
) -> Result:
    """Run a read-only query on a DuckDB connection with a deterministic, JSON-native result."""
    tree = parse(sql, dialect) if isinstance(sql, str) else sql
    ordered = with_tiebreak(tree, dialect)
    duck_sql = to_duckdb(ordered, schema, dialect)
    try:
        with time_limit(con):
            raw = con.execute(duck_sql).fetchall()
    except duckdb.InterruptException as exc:
        raise QueryError(
            f"the query ran longer than {query_timeout():g} s and was stopped; simplify it "
            f"(a cross join?) or raise {TIMEOUT_ENV}"
        ) from exc
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise QueryError(f"DuckDB could not run the query: {message}") from exc
    return Result(columns=output_columns(tree, dialect), rows=finish_rows(tree, raw))


TIMEOUT_ENV = "HOLOBENCH_QUERY_TIMEOUT"


DEFAULT_QUERY_TIMEOUT = 60.0


def query_timeout() -> float:
    """Seconds one query may run (``$HOLOBENCH_QUERY_TIMEOUT``, default 60; 0 or less: no limit)."""
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_QUERY_TIMEOUT))
    except ValueError:
        return DEFAULT_QUERY_TIMEOUT


@contextmanager
def time_limit(con: duckdb.DuckDBPyConnection, seconds: float | None = None) -> Iterator[None]:
    """Interrupt what ``con`` runs inside the block once ``seconds`` have passed (DuckDB then
    raises ``InterruptException``); a query that finished in time is never touched."""
    limit = query_timeout() if seconds is None else seconds
    if not math.isfinite(limit) or limit <= 0:
        yield
        return
    lock = threading.Lock()
    running = True

    def stop() -> None:
        with lock:
            if running:
                con.interrupt()

    timer = threading.Timer(limit, stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            running = False
        timer.cancel()
