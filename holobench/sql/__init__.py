"""SQL analysis and execution: parse, read-only check, tables/columns used, categories, and
SQLite-dialect SQL run on DuckDB with SQLite's answers.

Spider-style SQL is written for SQLite.  Run naively on DuckDB it gives different answers in a
few well-known places; ``to_duckdb`` rewrites each of them (see ``EngineDifference``):

* integer / integer truncates in SQLite (sqlglot does this once operand types are annotated);
* a text column compared with a number compares as text, a number column with a numeric string
  compares as numbers, a number with a non-numeric string is decided by SQLite's type order;
* LIKE works on dates and timestamps (SQLite stores them as text) and ignores ASCII case;
* NULLs sort first in ascending order (sqlglot adds NULLS FIRST);
* ROUND(x, n) rounds the value *as written* (15 significant digits) half away from zero, as SQLite
  before 3.43 and DuckDB before 2.0.1 did; both engines have since moved to rounding the exact
  binary double, so ``ROUND(61.565, 2)`` became 61.56 (see ``sqlite_round``);
* a bare column next to MAX()/MIN() takes its value from the row holding the extreme
  (ARG_MAX/ARG_MIN); other bare columns take any value of the group (ANY_VALUE).
"""

from __future__ import annotations

from holobench.sql import analysis, execute, rewrites
from holobench.sql.analysis import (
    Schema,
    check_read_only,
    columns_used,
    is_aggregate_select,
    output_columns,
    parse,
    qualified,
    suggest_categories,
    tables_used,
)
from holobench.sql.execute import (
    DEFAULT_QUERY_TIMEOUT,
    TIMEOUT_ENV,
    blob_text,
    execute_duckdb,
    finish_rows,
    json_value,
    query_timeout,
    sort_key,
    time_limit,
)
from holobench.sql.rewrites import NUMERIC_PREFIX, RULES, Rule, sqlite_round, to_duckdb, with_tiebreak

__all__ = [
    "DEFAULT_QUERY_TIMEOUT",
    "NUMERIC_PREFIX",
    "RULES",
    "TIMEOUT_ENV",
    "Rule",
    "Schema",
    "blob_text",
    "check_read_only",
    "columns_used",
    "execute_duckdb",
    "finish_rows",
    "is_aggregate_select",
    "json_value",
    "output_columns",
    "parse",
    "qualified",
    "query_timeout",
    "sort_key",
    "sqlite_round",
    "suggest_categories",
    "tables_used",
    "time_limit",
    "to_duckdb",
    "with_tiebreak",
]

# The docstring examples of the rules and helpers run in this package's namespace, so that
# ``doctest.testmod(holobench.sql)`` runs them all; these are the names they use.
import duckdb
import sqlglot

from holobench.sql.rewrites import (
    _demo,
    _rewrite_round,
    bare_group_by_column,
    integer_division,
    like_case_insensitive,
    like_on_date,
    null_ordering,
    round_as_written,
    text_number_comparison,
)

__test__ = {
    f"{module.__name__}.{name}": value
    for module in (analysis, execute, rewrites)
    for name, value in vars(module).items()
    if callable(value) and getattr(value, "__module__", None) == module.__name__ and ">>>" in (value.__doc__ or "")
}
_EXAMPLE_NAMES: tuple[object, ...] = (duckdb, sqlglot, _demo, _rewrite_round, bare_group_by_column, integer_division)
_EXAMPLE_NAMES += (like_case_insensitive, like_on_date, null_ordering, round_as_written, text_number_comparison)
