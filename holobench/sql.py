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

import datetime as dt
import decimal
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from holobench.errors import QueryError
from holobench.records import Category, Result

Schema = Mapping[str, Mapping[str, str]]

_WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Merge,
    exp.TruncateTable,
    exp.Pragma,
    exp.Set,
    exp.Use,
    exp.Copy,
    exp.Attach,
    exp.Detach,
    exp.Into,
)
_NUMERIC_LITERAL = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
_COMPARISONS: tuple[type[exp.Expr], ...] = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_INEQUALITIES: tuple[type[exp.Expr], ...] = (exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_OTHER_AGGREGATES: tuple[type[exp.Expr], ...] = (exp.Count, exp.Sum, exp.Avg)


# --------------------------------------------------------------------------- parsing


def parse(sql: str, dialect: str = "sqlite") -> exp.Query:
    """Parse exactly one read-only query, or raise QueryError saying why not."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise QueryError(f"SQL does not parse: {first}") from exc
    except SqlglotError as exc:
        raise QueryError(f"SQL does not parse: {exc}") from exc
    if len(statements) != 1:
        raise QueryError(f"expected exactly one SQL statement, found {len(statements)}")
    tree = statements[0]
    check_read_only(tree)
    assert isinstance(tree, exp.Query)
    return tree


def check_read_only(tree: exp.Expr) -> None:
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper()
        raise QueryError(f"only SELECT queries are allowed, got a {kind} statement")
    for node in tree.walk():
        if isinstance(node, _WRITE_NODES):
            raise QueryError(f"only read-only SELECT queries are allowed, found {node.key.upper()}")


def tables_used(tree: exp.Expr) -> list[str]:
    """Base tables the query reads (CTE names excluded), in first-seen order."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    seen: dict[str, None] = {}
    for table in tree.find_all(exp.Table):
        name = table.name
        if name and name.lower() not in ctes:
            seen.setdefault(name, None)
    return list(seen)


def qualified(tree: exp.Expr, schema: Schema, dialect: str = "sqlite") -> exp.Expr:
    """Columns resolved to their tables and types annotated; unknown names raise QueryError."""
    try:
        q = qualify(
            tree.copy(),
            schema=_schema_for(schema),
            dialect=dialect,
            validate_qualify_columns=True,
            quote_identifiers=True,
            identify=True,
        )
        return annotate_types(q, schema=_schema_for(schema), dialect=dialect)
    except OptimizeError as exc:
        raise QueryError(f"SQL does not match the database schema: {exc}") from exc
    except SqlglotError as exc:
        raise QueryError(f"SQL cannot be analysed: {exc}") from exc


def _schema_for(schema: Schema) -> dict[str, object]:
    return {t: dict(cols) for t, cols in schema.items()}


def columns_used(tree: exp.Expr, schema: Schema, dialect: str = "sqlite") -> dict[str, list[str]]:
    """{table: [columns]} read by the query, resolved through aliases and subqueries."""
    q = qualified(tree, schema, dialect)
    lower_tables = {t.lower(): t for t in schema}
    lower_cols = {t: {c.lower(): c for c in cols} for t, cols in schema.items()}
    out: dict[str, dict[str, None]] = {}
    for scope in traverse_scope(q):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                table = lower_tables.get(source.name.lower())
                if table is None:
                    continue
                col = lower_cols[table].get(column.name.lower(), column.name)
                out.setdefault(table, {})[col] = None
    return {t: list(cols) for t, cols in out.items()}


# --------------------------------------------------------------------------- categories


def suggest_categories(tree: exp.Expr) -> set[Category]:
    """The paper's five query types by the rules documented in the README; a query that fits
    none of them (a plain lookup with equality filters) is a Selection."""
    cats: set[Category] = set()
    if any(tree.find_all(*_OTHER_AGGREGATES)) or any(tree.find_all(exp.Group)):
        cats.add(Category.AGGREGATION)
    has_limit_order = any(
        isinstance(s, exp.Query) and s.args.get("order") is not None and s.args.get("limit") is not None
        for s in tree.walk()
    )
    if any(tree.find_all(exp.Max, exp.Min)) or has_limit_order:
        cats.add(Category.MAX_MIN)
    if len({t.lower() for t in tables_used(tree)}) > 1:
        cats.add(Category.JOIN)
    if any(tree.find_all(*_INEQUALITIES)):
        cats.add(Category.COMPARISON)
    order = tree.args.get("order")
    limit = tree.args.get("limit")
    if order is not None and (limit is None or _limit_value(limit) != 1):
        cats.add(Category.RANKING)
    return cats or {Category.SELECTION}


def _limit_value(limit: exp.Expr) -> int | None:
    value = limit.args.get("expression")
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return None


def output_columns(tree: exp.Query, dialect: str = "sqlite") -> list[str]:
    """Result column names as the query's author wrote them (alias, column name, or the expression)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    names = []
    for proj in select.expressions if isinstance(select, exp.Select) else []:
        if isinstance(proj, exp.Alias):
            names.append(proj.alias)
        elif isinstance(proj, exp.Column) and not isinstance(proj.this, exp.Star):
            names.append(proj.name)
        else:
            names.append(proj.sql(dialect=dialect))
    return names


# --------------------------------------------------------------------------- SQLite -> DuckDB


def _is_text(node: exp.Expr) -> bool:
    return node.type is not None and node.type.is_type(*exp.DataType.TEXT_TYPES)


def _is_number(node: exp.Expr) -> bool:
    return node.type is not None and node.type.is_type(*exp.DataType.REAL_TYPES, *exp.DataType.INTEGER_TYPES)


def _is_temporal(node: exp.Expr) -> bool:
    return node.type is not None and node.type.is_type(*exp.DataType.TEMPORAL_TYPES)


def _affinity_column(node: exp.Expr) -> bool:
    """SQLite applies column affinity to columns (and CASTs), not to arbitrary expressions."""
    return isinstance(node, exp.Column | exp.Cast)


def _rewrite_comparison(node: exp.Expr) -> exp.Expr:
    assert isinstance(node, exp.Binary)
    left, right = node.left, node.right
    for a, b, flipped in ((left, right, False), (right, left, True)):
        if _affinity_column(a) and _is_text(a) and isinstance(b, exp.Literal) and not b.is_string:
            b.replace(exp.Literal.string(b.this))
            return node
        if _affinity_column(a) and (_is_number(a) or _is_temporal(a)) and isinstance(b, exp.Literal) and b.is_string:
            if _is_number(a) and _NUMERIC_LITERAL.fullmatch(b.this):
                b.replace(exp.Literal.number(b.this.strip()))
                return node
            if _is_number(a):
                # SQLite orders every number before every string: the outcome is fixed unless NULL.
                less = isinstance(node, exp.LT | exp.LTE) != flipped
                outcome = isinstance(node, exp.NEQ) or (less and not isinstance(node, exp.EQ))
                return exp.Case(
                    ifs=[exp.If(this=exp.Is(this=a.copy(), expression=exp.Null()), true=exp.Null())],
                    default=exp.Boolean(this=outcome),
                )
        if _affinity_column(a) and _is_text(a) and _affinity_column(b) and _is_number(b):
            # Numeric affinity goes to the text side; text that is no number never matches here.
            a.replace(exp.TryCast(this=a.copy(), to=exp.DataType.build("DOUBLE")))
            return node
    return node


def _rewrite_like(node: exp.Like) -> exp.Expr:
    target = node.this
    if target.type is not None and not _is_text(target) and not target.type.is_type(exp.DataType.Type.UNKNOWN):
        target.replace(exp.Cast(this=target.copy(), to=exp.DataType.build("VARCHAR")))
    # Copy every argument (negate for NOT LIKE, escape) so only the operator changes.
    return exp.ILike(**{k: v for k, v in node.args.items() if v is not None})


def is_aggregate_select(select: exp.Select) -> bool:
    if select.args.get("group") is not None:
        return True
    return any(_aggregates_in(p) for p in select.expressions)


def _aggregates_in(node: exp.Expr) -> list[exp.AggFunc]:
    return [a for a in node.find_all(exp.AggFunc) if _same_select(a, node)]


def _same_select(inner: exp.Expr, outer: exp.Expr) -> bool:
    """True when ``inner`` is not inside a subquery nested within ``outer``."""
    node = inner.parent
    while node is not None and node is not outer:
        if isinstance(node, exp.Subquery | exp.Select):
            return False
        node = node.parent
    return True


def _inside(node: exp.Expr, stop: exp.Expr, match: Any) -> bool:
    """Whether ``node`` or one of its ancestors below ``stop`` satisfies ``match``."""
    current: exp.Expr | None = node
    while current is not None and current is not stop:
        if match(current):
            return True
        current = current.parent
    return False


def _rewrite_bare_columns(select: exp.Select) -> None:
    """Wrap columns that are neither grouped nor aggregated the way SQLite resolves them."""
    if not is_aggregate_select(select):
        return
    group = select.args.get("group")
    grouped = list(group.expressions) if group else []
    aggs = [a for p in select.expressions for a in _aggregates_in(p)]
    extremes = [a for a in aggs if isinstance(a, exp.Max | exp.Min)]
    pick = extremes[0] if len(extremes) == 1 and len(aggs) == 1 else None
    targets = [*select.expressions, *(select.args[k] for k in ("order", "having") if select.args.get(k) is not None)]
    for target in targets:
        for column in list(target.find_all(exp.Column)):
            if column.parent_select is not select or not column.table or isinstance(column.this, exp.Star):
                continue  # another query's column, an output alias (ORDER BY total), or *
            if _inside(column, select, lambda n: isinstance(n, exp.AggFunc) or any(n == g for g in grouped)):
                continue
            if pick is not None:
                func: type[exp.Func] = exp.ArgMax if isinstance(pick, exp.Max) else exp.ArgMin
                column.replace(func(this=column.copy(), expression=pick.this.copy()))
            else:
                column.replace(exp.AnyValue(this=column.copy()))


# SQLite leaves values beyond 2**52 alone: they have no fractional part to round.
_ROUND_LIMIT_INT = 4503599627370496
_ROUND_LIMIT = float(_ROUND_LIMIT_INT)
# A DECIMAL(38, s) keeps 38 - s integer digits; 2**52 has 16, so s stays at or below 22.
_ROUND_MAX_DIGITS = 22


def sqlite_round(value: float | None, digits: int = 0) -> float | None:
    """The reference ROUND: the value as printed with 15 significant digits, half away from zero.

    Data are decimal text, so an average of 61.56, 61.57 is 61.565 to a person, but the double
    holding it is 61.5649999...; rounding the exact double (SQLite >= 3.43, DuckDB >= 2.0.1) says
    61.56, while SQLite < 3.43, DuckDB < 2.0.1 and a person say 61.57. Fifteen digits also absorb
    the last-bit noise of summing in another order, so gold does not depend on either engine.

    >>> sqlite_round(61.565, 2), sqlite_round(-2.675, 2), sqlite_round(2.5), sqlite_round(None)
    (61.57, -2.68, 3.0, None)
    """
    if value is None:
        return None
    digits = min(max(digits, 0), _ROUND_MAX_DIGITS)
    if not math.isfinite(value) or abs(value) > _ROUND_LIMIT:
        return float(value)
    as_written = decimal.Decimal(f"{value:.15g}")
    return float(as_written.quantize(decimal.Decimal(1).scaleb(-digits), rounding=decimal.ROUND_HALF_UP))


# The longest numeric prefix SQLite reads from text ('3.5kg' is 3.5; text with none is 0.0).
NUMERIC_PREFIX = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"


def _as_sqlite_real(node: exp.Expr) -> exp.Expr:
    """The double SQLite's numeric functions see: text is read by its numeric prefix."""
    if not _is_text(node):
        return exp.TryCast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    prefix = exp.RegexpExtract(this=node.copy(), expression=exp.Literal.string(NUMERIC_PREFIX))
    number = exp.Coalesce(
        this=exp.TryCast(this=prefix, to=exp.DataType.build("DOUBLE")), expressions=[exp.Literal.number(0.0)]
    )
    return exp.Case(ifs=[exp.If(this=exp.Is(this=node.copy(), expression=exp.Null()), true=exp.Null())], default=number)


def _rewrite_round(node: exp.Round) -> exp.Expr:
    """ROUND(x, n) -> the DuckDB form of ``sqlite_round`` (decimal arithmetic on the printed value).

    >>> _rewrite_round(sqlglot.parse_one("ROUND(AVG(t), 2)", read="sqlite")).sql("duckdb")  # doctest: +ELLIPSIS
    "CASE WHEN ABS(TRY_CAST(AVG(t) AS DOUBLE)) > 4503599627370496 THEN ... AS DECIMAL(38, 2)) AS DOUBLE) END"
    >>> duckdb.connect().execute(to_duckdb("SELECT ROUND(61.565, 2), ROUND(0.5), ROUND(NULL, 1)", {})).fetchone()
    (61.57, 1.0, None)
    """
    digits_arg = node.args.get("decimals")
    value = _as_sqlite_real(node.this)
    if digits_arg is None:
        digits = 0
    elif isinstance(digits_arg, exp.Literal) and digits_arg.is_int:
        digits = min(max(int(digits_arg.this), 0), _ROUND_MAX_DIGITS)
    else:  # a computed precision (rare): DuckDB's own ROUND of the double, clamped as SQLite does
        clamped = exp.Greatest(
            this=exp.Least(this=digits_arg.copy(), expressions=[exp.Literal.number(30)]),
            expressions=[exp.Literal.number(0)],
        )
        return exp.Round(this=value, decimals=exp.Cast(this=clamped, to=exp.DataType.build("INTEGER")))
    printed = exp.Anonymous(this="printf", expressions=[exp.Literal.string("%.15g"), value.copy()])
    as_decimal = exp.Cast(this=printed, to=exp.DataType.build("DECIMAL(38, 22)"))
    rounded = exp.Cast(this=as_decimal, to=exp.DataType.build(f"DECIMAL(38, {digits})"))
    too_large = exp.GT(this=exp.Abs(this=value.copy()), expression=exp.Literal.number(_ROUND_LIMIT_INT))
    return exp.Case(
        ifs=[exp.If(this=too_large, true=value.copy())],
        default=exp.Cast(this=rounded, to=exp.DataType.build("DOUBLE")),
    )


def to_duckdb(sql: str | exp.Query, schema: Schema, dialect: str = "sqlite") -> str:
    """DuckDB SQL that returns what ``sql`` returns on SQLite (see the module docstring)."""
    tree = parse(sql, dialect) if isinstance(sql, str) else sql
    if dialect != "sqlite":
        return tree.sql(dialect="duckdb")
    q = qualified(tree, schema, dialect)
    for node in list(q.find_all(*_COMPARISONS)):
        replacement = _rewrite_comparison(node)
        if replacement is not node:
            node.replace(replacement)
    for like in list(q.find_all(exp.Like)):
        like.replace(_rewrite_like(like))
    for select in list(q.find_all(exp.Select)):
        _rewrite_bare_columns(select)
    for node in list(q.find_all(exp.Round)):  # last: it copies its argument, aggregates included
        node.replace(_rewrite_round(node))
    return q.sql(dialect="duckdb")


def with_tiebreak(tree: exp.Query, dialect: str = "sqlite") -> exp.Query:
    """Append every output column to the outermost ORDER BY so ties come in a fixed order."""
    order = tree.args.get("order")
    if order is None:
        return tree
    out = tree.copy()
    n = len(output_columns(out, dialect))
    extra = [exp.Ordered(this=exp.Literal.number(i), nulls_first=True) for i in range(1, n + 1)]
    out.args["order"].set("expressions", [*out.args["order"].expressions, *extra])
    return out


# --------------------------------------------------------------------------- execution and values


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
