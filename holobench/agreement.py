"""Run a SQLite-dialect query on SQLite itself and on DuckDB (through ``holobench.sql``) and compare.

This is how the project proves its SQL layer: every bundled query must give the same answer on
both engines over the full database.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from holobench.sources.base import Database
from holobench.sql import finish_rows, parse, with_tiebreak
from holobench.types import Result


def run_sqlite(path: Path, sql: str) -> Result:
    """The reference answer: SQLite on the original file, with the same tie-break and row order."""
    from holobench.sql import output_columns

    tree = parse(sql, "sqlite")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
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
