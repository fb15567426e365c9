"""What a query's SQL says about how its answer may be written: which rows tie in its order,
and which columns it rounds. A grader reads the same from the question ("highest first" with no
tie-break; "rounded to one decimal place")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp


@dataclass(frozen=True)
class QueryShape:
    #: output columns the ORDER BY sorts on, in order; None when it sorts on anything else
    order_keys: tuple[int, ...] | None
    #: per output column, the decimals ROUND(x, k) keeps (None: not rounded to decimals)
    decimals: tuple[int | None, ...]

    def tie_groups(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        """A group number per row: neighbours equal on every sort key share one, since the SQL
        leaves their order to the engine (ORDER BY runs DESC with no tie-break)."""
        groups: list[int] = []
        for r, row in enumerate(rows):
            same = (
                r > 0
                and self.order_keys is not None
                and all(k < len(row) and row[k] == rows[r - 1][k] for k in self.order_keys)
            )
            groups.append(groups[-1] if same else r)
        return groups


NO_SHAPE = QueryShape(None, ())


@lru_cache(maxsize=1024)
def query_shape(sql: str | None) -> QueryShape:
    """The shape of the outermost SELECT of ``sql`` (SQLite dialect); NO_SHAPE when unreadable."""
    if not sql:
        return NO_SHAPE
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return NO_SHAPE
    if not isinstance(tree, exp.Select):
        return NO_SHAPE
    projections = list(tree.expressions)
    return QueryShape(_order_keys(tree, projections), tuple(_rounding(p) for p in projections))


def _rounding(projection: exp.Expression) -> int | None:
    """``ROUND(AVG(seats), 1)`` -> 1; anything else -> None."""
    node = projection.this if isinstance(projection, exp.Alias) else projection
    if not isinstance(node, exp.Round):
        return None
    places = node.args.get("decimals")
    if isinstance(places, exp.Literal) and places.is_int and int(places.this) > 0:
        return int(places.this)
    return None


def _order_keys(select: exp.Select, projections: list[exp.Expression]) -> tuple[int, ...] | None:
    order = select.args.get("order")
    if order is None:
        return None
    aliases = {p.alias_or_name.lower(): i for i, p in enumerate(projections) if p.alias_or_name}
    bodies: dict[str, int] = {}
    for i, p in enumerate(projections):
        body = p.this if isinstance(p, exp.Alias) else p
        bodies.setdefault(body.sql(), i)
        if isinstance(body, exp.Round):  # ORDER BY SUM(x) for ROUND(SUM(x), 2): ties as shown
            bodies.setdefault(body.this.sql(), i)
    keys: list[int] = []
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Literal) and key.is_int:
            index: int | None = int(key.this) - 1
        elif key.sql() in bodies:
            index = bodies[key.sql()]
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in aliases:
            index = aliases[key.name.lower()]
        else:
            index = None
        if index is None or not 0 <= index < len(projections):
            return None
        keys.append(index)
    return tuple(keys)
