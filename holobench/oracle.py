"""Run a SQLite-dialect query on SQLite itself and on DuckDB (through ``holobench.sql``) and compare.

This is how the project proves its SQL layer: every bundled query must give the same answer on
both engines over the full database.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from holobench.database import Database
from holobench.records import Result
from holobench.sql import NUMERIC_PREFIX, finish_rows, parse, sqlite_round, with_tiebreak


def _reference_round(value: Any, digits: Any = 0) -> float | None:
    if value is None or digits is None:
        return None
    if isinstance(value, str):
        found = re.match(NUMERIC_PREFIX, value)
        value = float(found.group(0)) if found else 0.0
    return sqlite_round(float(value), int(digits))


def use_reference_round(con: sqlite3.Connection) -> sqlite3.Connection:
    """Give ``con`` ROUND as holobench defines it, whatever the SQLite release.

    SQLite 3.43 changed round() to round the exact binary double (61.565 became 61.56); the
    earlier rule, which holobench keeps (``holobench.sql.sqlite_round``), rounds the value as
    written. An application function overrides the built-in; a test checks that SQLite before
    3.43 gives the same answers natively.
    """
    con.create_function("round", 1, _reference_round, deterministic=True)
    con.create_function("round", 2, _reference_round, deterministic=True)
    return con


def run_sqlite(path: Path, sql: str, *, native_round: bool = False) -> Result:
    """The reference answer: SQLite on the original file, with the same tie-break and row order."""
    from holobench.sql import output_columns

    tree = parse(sql, "sqlite")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    if not native_round:
        use_reference_round(con)
    try:
        raw = con.execute(with_tiebreak(tree).sql(dialect="sqlite")).fetchall()
    finally:
        con.close()
    return Result(columns=output_columns(tree), rows=finish_rows(tree, raw))


def values_equal(a: Any, b: Any, rel_tol: float = 1e-9) -> bool:
    if isinstance(a, bool | int | float) and isinstance(b, bool | int | float):
        return a == b or math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-9)
    return bool(a == b)


def rows_equal(left: Sequence[Sequence[Any]], right: Sequence[Sequence[Any]]) -> bool:
    if len(left) != len(right):
        return False
    return all(
        len(x) == len(y) and all(values_equal(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(left, right, strict=True)
    )


def compare_engines(db: Database, sql: str) -> tuple[Result, Result]:
    """(SQLite's result, DuckDB's result) for ``sql`` over ``db``'s SQLite file."""
    if db.sqlite_path is None:
        raise ValueError(f"{db.db_id} was not loaded from SQLite")
    return run_sqlite(db.sqlite_path, sql), db.execute(sql)
