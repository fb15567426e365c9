"""SQLite-dialect SQL rewritten for DuckDB so it returns SQLite's answers: one rule per engine
difference (:class:`~holobench.records.EngineDifference`), each a function from tree to tree with
a runnable before/after example, all listed in :data:`RULES`."""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from holobench.records import EngineDifference
from holobench.sql.analysis import Schema, _aggregates_in, is_aggregate_select, output_columns, parse, qualified

_NUMERIC_LITERAL = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")


_COMPARISONS: tuple[type[exp.Expr], ...] = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


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


Rule = Callable[[exp.Expr], exp.Expr]


def _demo(sql: str, rule: Rule) -> str:
    """``sql`` qualified over a small table and passed through one rule, as DuckDB SQL: the
    before/after examples of the rules below."""
    schema = {"t": {"id": "INTEGER", "name": "TEXT", "born": "DATE", "wins": "INTEGER", "team": "TEXT"}}
    return rule(qualified(parse(sql), schema)).sql(dialect="duckdb").replace('"', "")


def integer_division(tree: exp.Expr) -> exp.Expr:
    """integer / integer truncates in SQLite; sqlglot writes it so once operand types are known.

    >>> _demo("SELECT wins / 2 FROM t", integer_division)
    'SELECT CAST(TRUNC(t.wins / NULLIF(2, 0)) AS BIGINT) AS _col_0 FROM t AS t'
    """
    return tree


def null_ordering(tree: exp.Expr) -> exp.Expr:
    """NULLs sort first in ascending order in SQLite; sqlglot adds NULLS FIRST.

    >>> _demo("SELECT name FROM t ORDER BY wins", null_ordering)
    'SELECT t.name AS name FROM t AS t ORDER BY t.wins NULLS FIRST'
    """
    return tree


def text_number_comparison(tree: exp.Expr) -> exp.Expr:
    """A text column compared with a number compares as text, a number column with a numeric
    string as numbers, a number with other text by SQLite's type order (numbers first).

    >>> _demo("SELECT id FROM t WHERE name = 5 AND wins > '90'", text_number_comparison)
    "SELECT t.id AS id FROM t AS t WHERE t.name = '5' AND t.wins > 90"
    >>> _demo("SELECT id FROM t WHERE wins < 'abc'", text_number_comparison)
    'SELECT t.id AS id FROM t AS t WHERE CASE WHEN t.wins IS NULL THEN NULL ELSE TRUE END'
    """
    for node in list(tree.find_all(*_COMPARISONS)):
        replacement = _rewrite_comparison(node)
        if replacement is not node:
            node.replace(replacement)
    return tree


def like_on_date(tree: exp.Expr) -> exp.Expr:
    """LIKE works on dates and numbers in SQLite, which stores them as text: cast them to text.

    >>> _demo("SELECT id FROM t WHERE born LIKE '2013%'", like_on_date)
    "SELECT t.id AS id FROM t AS t WHERE CAST(t.born AS TEXT) LIKE '2013%'"
    """
    for like in list(tree.find_all(exp.Like, exp.ILike)):
        target = like.this
        if target.type is not None and not _is_text(target) and not target.type.is_type(exp.DataType.Type.UNKNOWN):
            target.replace(exp.Cast(this=target.copy(), to=exp.DataType.build("VARCHAR")))
    return tree


def like_case_insensitive(tree: exp.Expr) -> exp.Expr:
    """SQLite's LIKE ignores ASCII case: DuckDB's ILIKE (NOT LIKE and ESCAPE kept).

    >>> _demo("SELECT id FROM t WHERE name LIKE 'a%'", like_case_insensitive)
    "SELECT t.id AS id FROM t AS t WHERE t.name ILIKE 'a%'"
    """
    for like in list(tree.find_all(exp.Like)):
        like.replace(exp.ILike(**{k: v for k, v in like.args.items() if v is not None}))
    return tree


def bare_group_by_column(tree: exp.Expr) -> exp.Expr:
    """A bare column next to MAX()/MIN() takes its value from the row holding the extreme
    (ARG_MAX/ARG_MIN); other bare columns take any value of the group (ANY_VALUE).

    >>> _demo("SELECT team, name, MAX(wins) FROM t GROUP BY team", bare_group_by_column)
    'SELECT t.team AS team, ARG_MAX(t.name, t.wins) AS name, MAX(t.wins) AS _col_2 FROM t AS t GROUP BY t.team'
    """
    for select in list(tree.find_all(exp.Select)):
        _rewrite_bare_columns(select)
    return tree


def round_as_written(tree: exp.Expr) -> exp.Expr:
    """ROUND(x, n) rounds the value as written (15 significant digits), half away from zero,
    as :func:`sqlite_round` does. Last: it copies its argument, aggregates included.

    >>> _demo("SELECT ROUND(AVG(wins), 2) FROM t", round_as_written)  # doctest: +ELLIPSIS
    "SELECT CASE WHEN ABS(TRY_CAST(AVG(t.wins) AS DOUBLE)) > 4503599627370496 THEN ... END AS _col_0 FROM t AS t"
    """
    for node in list(tree.find_all(exp.Round)):
        node.replace(_rewrite_round(node))
    return tree


#: Every SQLite behaviour DuckDB does not share, and the rule that reproduces it, in the order
#: they apply (sqlglot's transpiling does the first two).
RULES: tuple[tuple[EngineDifference, Rule], ...] = (
    (EngineDifference.INTEGER_DIVISION, integer_division),
    (EngineDifference.NULL_ORDERING, null_ordering),
    (EngineDifference.TEXT_NUMBER_COMPARISON, text_number_comparison),
    (EngineDifference.LIKE_ON_DATE, like_on_date),
    (EngineDifference.LIKE_CASE_INSENSITIVE, like_case_insensitive),
    (EngineDifference.BARE_GROUP_BY_COLUMN, bare_group_by_column),
    (EngineDifference.ROUND_AS_WRITTEN, round_as_written),
)


def to_duckdb(sql: str | exp.Query, schema: Schema, dialect: str = "sqlite") -> str:
    """DuckDB SQL that returns what ``sql`` returns on SQLite: every rule in :data:`RULES`."""
    tree = parse(sql, dialect) if isinstance(sql, str) else sql
    if dialect != "sqlite":
        return tree.sql(dialect="duckdb")
    rewritten: exp.Expr = qualified(tree, schema, dialect)
    for _, rule in RULES:
        rewritten = rule(rewritten)
    return rewritten.sql(dialect="duckdb")


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
