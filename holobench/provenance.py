"""Which rows carry a query's answer (row provenance), computed once per query and database.

A *witness* is one combination of base rows that survives a SELECT block's joins and filters:
for ``SELECT ... FROM a JOIN b ON ... WHERE ...`` it is one (row of a, row of b) of the join's
output, found by running the block on the full database with each table's row id projected
instead of the output columns. Witnesses are grouped by the block's GROUP BY key (each witness is
its own group when the block does not aggregate; all are one group for an aggregate without
GROUP BY), and groups that fail HAVING on the full database are dropped. Sampling answer rows
witness by witness keeps joins joined: a sampled track comes with its album.

Exact for one SELECT block over base tables (joins, WHERE, GROUP BY/HAVING, ORDER BY/LIMIT,
DISTINCT): every witness contributes to the output on some subset of the rows, and every row
that does is in a witness. Otherwise (subqueries, set operations, derived tables) each block's
own witnesses are taken, a sound approximation: each is a row that passes its own block's
joins and filters, and the method says so. A table read by the query whose rows cannot be
traced (a column named ``rowid``, a derived table) gets no provenance: sampling treats it as
uniform sampling would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import sqlglot
from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from holobench.database import Database
from holobench.sql import is_aggregate_select, parse, query_timeout, time_limit, to_duckdb

RowRef = tuple[str, int]  # (table, 0-based row in natural order)
Witness = tuple[RowRef, ...]
Method = Literal["exact", "approximate", "none"]
_ROWID = "__holobench_rowid_"
_GROUP = "__holobench_group_"


class ProvenanceSummary(BaseModel):
    """What the manifest records of a query's provenance."""

    model_config = ConfigDict(frozen=True)

    query_id: str
    method: Method
    note: str = ""
    groups: int
    witnesses: int
    answer_rows: dict[str, int]
    near_miss_rows: dict[str, int]


@dataclass(frozen=True)
class Provenance:
    """Witnesses grouped by output group, and the answer rows per table."""

    method: Method
    note: str
    groups: tuple[tuple[Witness, ...], ...]
    answer_rows: dict[str, frozenset[int]]
    traced: frozenset[str]  # tables whose answer rows are known
    aggregates: bool  # some block aggregates: a group is only an answer when its rows are present
    having: bool  # HAVING decides which groups answer: fill groups whole, not witness by witness
    limit: int | None  # the outermost LIMIT, when the answer should list that many rows

    def near_misses(self, db: Database, tables: Sequence[str]) -> dict[str, list[int]]:
        """Rows of the traced relevant tables that are in no witness: same table, wrong answer."""
        out: dict[str, list[int]] = {}
        for table in tables:
            if table in self.traced:
                answers = self.answer_rows.get(table, frozenset())
                out[table] = [i for i in range(db.row_count(table)) if i not in answers]
        return out

    def summary(self, query_id: str, db: Database, tables: Sequence[str]) -> ProvenanceSummary:
        near = self.near_misses(db, tables)
        return ProvenanceSummary(
            query_id=query_id,
            method=self.method,
            note=self.note,
            groups=len(self.groups),
            witnesses=sum(len(g) for g in self.groups),
            answer_rows={t: len(self.answer_rows.get(t, ())) for t in tables if t in self.traced},
            near_miss_rows={t: len(rows) for t, rows in near.items()},
        )


class _Untraceable(Exception):
    """A block whose rows cannot be traced to base-table rows."""


@dataclass
class _Blocks:
    groups: list[tuple[Witness, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    aggregates: bool = False
    having: bool = False


def compute_provenance(db: Database, sql: str, dialect: str = "sqlite") -> Provenance:
    """Witnesses of ``sql`` over the whole of ``db`` (see the module docstring)."""
    tree = parse(sql, dialect)
    duck = sqlglot.parse_one(to_duckdb(tree, db.sql_schema(), dialect), read="duckdb")
    assert isinstance(duck, exp.Query)
    found = _Blocks()
    main = _main_query(duck, found)
    try:
        if isinstance(main, exp.SetOperation):
            _add_set_operation(db, main, found)
        elif isinstance(main, exp.Select):
            _add_block(db, main, found)
    except _Untraceable as why:
        found.notes.append(str(why))
    blocks = _select_blocks(duck)
    if len(blocks) > 1 and not found.notes:
        found.notes.append("subqueries or set operations: witnesses of the outer block, other tables as near misses")
    answer: dict[str, set[int]] = {}
    for group in found.groups:
        for witness in group:
            for table, row in witness:
                answer.setdefault(table, set()).add(row)
    method: Method = "none" if not found.groups else ("exact" if not found.notes else "approximate")
    return Provenance(
        method=method,
        note="; ".join(found.notes),
        groups=tuple(found.groups),
        answer_rows={t: frozenset(rows) for t, rows in answer.items()},
        traced=frozenset(answer) | frozenset(_traced_tables(db, blocks)),
        aggregates=found.aggregates,
        having=found.having,
        limit=_limit(duck),
    )


def _main_query(duck: exp.Query, found: _Blocks) -> exp.Query:
    """The query whose witnesses carry the answer: the outermost, or the one a lone derived
    table wraps (``SELECT COUNT(*) FROM (... INTERSECT ...)``)."""
    while isinstance(duck, exp.Select) and not duck.args.get("joins"):
        from_ = duck.args.get("from") or duck.args.get("from_")
        inner = from_.this if from_ is not None else None
        if not isinstance(inner, exp.Subquery) or not isinstance(inner.this, exp.Query):
            break
        found.notes.append("witnesses of the derived table in FROM")
        found.aggregates = found.aggregates or is_aggregate_select(duck)
        duck = inner.this
    return duck


def _select_blocks(tree: exp.Expr) -> list[exp.Select]:
    """Every SELECT block, outermost first (set-operation branches and subqueries included)."""
    return [node for node in tree.walk() if isinstance(node, exp.Select)]


def _branches(tree: exp.Query) -> list[exp.Select]:
    if isinstance(tree, exp.SetOperation):
        return [*_branches(tree.this), *_branches(tree.expression)]
    if isinstance(tree, exp.Subquery) and isinstance(tree.this, exp.Query):
        return _branches(tree.this)
    if isinstance(tree, exp.Select):
        return [tree]
    raise _Untraceable(f"a set-operation branch of kind {tree.key}")


def _add_set_operation(db: Database, tree: exp.SetOperation, found: _Blocks) -> None:
    """Witnesses of each branch whose output is in the result, grouped by that output value;
    INTERSECT needs a witness of every branch, so its groups are filled whole."""
    plain = tree.copy()
    for arg in ("order", "limit", "offset"):
        plain.set(arg, None)
    result = {tuple(r) for r in _run(db, plain.sql(dialect="duckdb"))}
    by_value: dict[tuple[Any, ...], list[Witness]] = {}
    for branch in _branches(tree):
        sources = _sources(db, branch)
        rows = _run(db, _bare(branch, [*_rowids(sources), *(e.copy() for e in branch.expressions)]))
        n = len(sources)
        for r in rows:
            if tuple(r[n:]) in result:
                by_value.setdefault(tuple(r[n:]), []).append(_witness(sources, r))
    found.groups.extend(tuple(dict.fromkeys(ws)) for ws in by_value.values())
    found.having = found.having or any(isinstance(node, exp.Intersect) for node in tree.walk())
    found.notes.append("set operation: branch witnesses grouped by output value")


def _traced_tables(db: Database, blocks: Sequence[exp.Select]) -> set[str]:
    """Tables read directly by some block: rows of theirs outside every witness are near misses."""
    out: set[str] = set()
    for block in blocks:
        try:
            out.update(table for _, table in _sources(db, block))
        except _Untraceable:
            continue
    return out


def _sources(db: Database, block: exp.Select) -> list[tuple[str, str]]:
    """(alias, table) of each base table in the block's FROM and JOINs."""
    from_ = block.args.get("from") or block.args.get("from_")
    if from_ is None:
        raise _Untraceable("a SELECT without FROM")
    out = []
    for source in [from_.this, *(j.this for j in block.args.get("joins") or [])]:
        if not isinstance(source, exp.Table):
            raise _Untraceable("a derived table in FROM")
        table = db.table_name(source.name)
        if any(c.lower() == "rowid" for c in db.schema(table).column_names):
            raise _Untraceable(f"{table} has a column named rowid")
        out.append((source.alias_or_name, table))
    return out


def _rowids(sources: Sequence[tuple[str, str]]) -> list[exp.Expr]:
    return [
        exp.alias_(exp.column("rowid", table=exp.to_identifier(alias, quoted=True)), f"{_ROWID}{i}")
        for i, (alias, _) in enumerate(sources)
    ]


def _witness(sources: Sequence[tuple[str, str]], row: Sequence[Any]) -> Witness:
    return tuple((table, int(row[i])) for i, (_, table) in enumerate(sources))


def _add_block(db: Database, block: exp.Select, found: _Blocks) -> None:
    sources = _sources(db, block)
    group = block.args.get("group")
    keys = [e.copy() for e in group.expressions] if group is not None else []
    aggregate = is_aggregate_select(block)
    semi = _semi_joins(db, block)
    projected = [
        *_rowids(sources),
        *(exp.alias_(k, f"{_GROUP}{i}") for i, k in enumerate(keys)),
        *(left.copy() for left, _ in semi),
    ]
    rows = _run(db, _bare(block, projected))
    survivors: set[tuple[Any, ...]] | None = None
    if block.args.get("having") is not None:
        found.having = True
        check = block.copy()
        check.set("expressions", [k.copy() for k in keys] or [exp.Literal.number(1)])
        for arg in ("order", "limit", "offset", "distinct"):
            check.set(arg, None)
        survivors = {tuple(r) for r in _run(db, check.sql(dialect="duckdb"))}
    n, k = len(sources), len(sources) + len(keys)
    by_group: dict[tuple[Any, ...], list[Witness]] = {}
    for r in rows:
        if survivors is not None and (tuple(r[n:k]) if keys else (1,)) not in survivors:
            continue
        support = [support_of.get(value, ()) for value, (_, support_of) in zip(r[k:], semi, strict=True)]
        witness = _witness(sources, r) + tuple(ref for found_rows in support for ref in found_rows)
        by_group.setdefault(tuple(r[n:k]) if aggregate else (len(by_group),), []).append(witness)
    found.aggregates = found.aggregates or aggregate
    found.groups.extend(tuple(ws) for ws in by_group.values())
    if semi:
        found.notes.append("IN subqueries: each witness with one row of the subquery that yields its value")


def _semi_joins(db: Database, block: exp.Select) -> list[tuple[exp.Expr, dict[Any, Witness]]]:
    """For each ``x IN (SELECT y FROM ... WHERE ...)`` of the block's WHERE (not negated, not
    correlated): the left expression, and for each value the first witness of the subquery
    that yields it, so a sampled outer row comes with the row that lets it pass."""
    where = block.args.get("where")
    out: list[tuple[exp.Expr, dict[Any, Witness]]] = []
    for node in where.find_all(exp.In) if where is not None else []:
        inner = node.args.get("query")
        inner = inner.this if isinstance(inner, exp.Subquery) else inner
        if not isinstance(inner, exp.Select) or isinstance(node.parent, exp.Not) or len(inner.expressions) != 1:
            continue
        try:
            sources = _sources(db, inner)
            rows = _run(db, _bare(inner, [*_rowids(sources), inner.expressions[0].copy()]))
        except _Untraceable:
            continue  # correlated, or over a derived table: no support rows
        support: dict[Any, Witness] = {}
        for r in rows:
            support.setdefault(r[-1], _witness(sources, r))
        out.append((node.this, support))
    return out


def _bare(block: exp.Select, expressions: list[exp.Expr]) -> str:
    """The block's FROM, JOINs and WHERE, projecting ``expressions``: one row per witness."""
    bare = block.copy()
    bare.set("expressions", expressions)
    for arg in ("group", "having", "order", "limit", "offset", "distinct", "qualify", "windows"):
        bare.set(arg, None)
    return bare.sql(dialect="duckdb")


def _run(db: Database, sql: str) -> list[tuple[Any, ...]]:
    try:
        with time_limit(db.connection):
            return db.connection.execute(sql).fetchall()
    except duckdb.InterruptException as exc:
        raise _Untraceable(f"a block ran longer than {query_timeout():g} s and was stopped") from exc
    except duckdb.Error as exc:
        # Correlated subqueries cannot run on their own; the caller records the block as untraced.
        raise _Untraceable(f"a block cannot run alone ({str(exc).splitlines()[0][:120]})") from exc


def _limit(tree: exp.Query) -> int | None:
    limit = tree.args.get("limit")
    value = limit.args.get("expression") if limit is not None else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return None
