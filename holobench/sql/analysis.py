"""Reading SQL: parse (SQLite dialect unless stated), the read-only check, the tables and columns
a query uses, its output columns, and the paper's categories it suggests."""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from holobench.errors import QueryError
from holobench.records import Category

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


_INEQUALITIES: tuple[type[exp.Expr], ...] = (exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


_OTHER_AGGREGATES: tuple[type[exp.Expr], ...] = (exp.Count, exp.Sum, exp.Avg)


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
