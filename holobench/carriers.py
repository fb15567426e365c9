"""Which relevant lines of an instance carry each of its gold rows.

**Definition.** Relevant line *i* carries gold row *r* when the query, run on the instance's
relevant rows without line *i*, no longer returns *r*. Result rows are matched to gold rows one
for one, numbers within 1e-9 as ``holobench verify`` compares them. Equal gold rows (a name
listed twice) cannot be told apart, so a line that loses one of them carries each of them. So a
COUNT(*) is carried by every counted line, a MAX by the line holding it, a GROUP BY count by its
group's lines, a top-5 list by its five lines. Lines are context line numbers (0-based indices
into ``Instance.lines``).

**Ties.** Leave-one-out finds no carrier for a row that survives the loss of any one line: a MAX
held by two lines, a DISTINCT name on two rows, the zero count of an unanswerable instance. Such
a row is given the relevant lines whose text holds every value of the row (read as the
faithfulness check reads them, :func:`holobench.verbalize.value_present`), so both tied lines
count; failing that, or for an answer over nothing (NULL, a zero count: no line holds it, every
line bears it out), the answer rows (answerable sampling), failing that every relevant line.

**Search.** A test (remove a set of lines, rerun, see which gold rows are lost) reruns the query
on rows loaded into DuckDB once per instance, switching rows off with a flag: 1-5 ms, against
about 10 ms for a fresh ``InstanceBuilder.gold`` (which also loads the rows every time). Queries
whose rows can only be lost, never restored, as more rows go (filters, joins, IN, EXISTS,
DISTINCT, UNION, INTERSECT, COUNT, MIN, MAX, ORDER BY/LIMIT, and SUM when its terms are
non-negative in the instance's rows) are searched by group testing: when removing a block loses
no gold row, no line of the block carries one (the assumption: removing a set of lines loses
every row that removing one of them loses); else the block is split. For those queries the
assumption fails only when another row happens to take the lost row's exact values (a duplicate
promoted into a LIMIT, two group counts that meet). Where removals can cancel (AVG, other SUMs,
arithmetic on aggregates, NOT IN, NOT EXISTS, EXCEPT, scalar subqueries, outer joins, windows)
every line is tested on its own. Near misses (``answer is False``) are tested like any other
line, in blocks of their own, as nothing is assumed of them. A one-table COUNT(*) with no filter
is carried by every line without any test.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any

import duckdb
from sqlglot import exp

from holobench.context import InstanceBuilder
from holobench.database import load_table, lock_down, new_connection
from holobench.errors import HoloBenchError
from holobench.lines import SEPARATOR
from holobench.oracle import values_equal
from holobench.records import Instance, InstanceConfig, Query
from holobench.sampling import degenerate_rows
from holobench.sql import finish_rows, parse, query_timeout, time_limit, to_duckdb, with_tiebreak
from holobench.verbalize import value_present
from holobench.verbalize.faithfulness import Prepared
from holobench.verify import GoldItem, query_of

_LINE = "__holobench_line"
_KEEP = "__holobench_keep"
#: Aggregates whose value moves one way only as rows are removed.
_ONE_WAY = (exp.Count, exp.Max, exp.Min)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
#: What a SUM's argument may be made of for its terms to be known non-negative from the data.
_SUM_TERMS = (exp.Column, exp.Identifier, exp.Literal, exp.Add, exp.Mul, exp.Paren)

Lost = Callable[[Collection[int]], frozenset[int]]


class PositionItem(GoldItem):
    """What the position analysis reads of an instance: gold, line provenance and settings
    (the context, most of a long instance's bytes, is skipped by the parser)."""

    config: InstanceConfig


def gold_carriers(item: GoldItem | Instance, builder: InstanceBuilder) -> list[list[int]]:
    """For every gold row, in gold order, the sorted line numbers of the relevant lines that carry
    it: line i carries row r when the query on the relevant rows without line i no longer returns
    r (rows matched one for one, numbers within 1e-9; equal gold rows share their carriers). A row
    no single line carries (a tie) gets the relevant lines whose text holds its values, else the
    answer lines, else every relevant line. ``builder`` serves the instance's database; the
    module docstring says how the search stays fast."""
    gold = item.gold.rows
    relevant = [i for i, line in enumerate(item.lines) if line.relevant]
    if not gold or not relevant:
        return [[] for _ in gold]
    found = _counted_by_all(parse(item.sql), gold, relevant)
    if found is None:
        found = _search(item, builder, query_of(item), relevant)
    for copies in _equal_rows(gold):
        shared = set().union(*(found[r] for r in copies))
        for r in copies:
            found[r] = set(shared)
    untraced = [r for r, lines in enumerate(found) if not lines]
    if untraced:
        texts = _texts(item, builder, relevant)
        for r in untraced:
            found[r].update(_tie_carriers(item, gold[r], relevant, texts))
    return [sorted(lines) for lines in found]


def _search(item: GoldItem | Instance, builder: InstanceBuilder, query: Query, relevant: list[int]) -> list[set[int]]:
    """Carriers by rerunning the query without lines; rows no single line carries stay empty."""
    gold = item.gold.rows
    found: list[set[int]] = [set() for _ in gold]
    # One time limit for the whole search: a timer per test would cost more than the test.
    with _Without(builder, query, item, relevant) as without, time_limit(without.con):

        def lost(removed: Collection[int]) -> frozenset[int]:
            return unmatched(gold, without.rows(removed))

        if lost(()):
            raise HoloBenchError(
                f"instance {item.id}: the engines here do not reproduce its gold answer; "
                "run 'holobench suite verify' on the instances file"
            )
        if group_testable(item, builder, relevant):
            # Near misses in blocks of their own: a block of them is cleared by one test.
            order = sorted(relevant, key=lambda i: (item.lines[i].answer is False, i))
            _group_test(lost, order, found)
        else:
            for i in relevant:
                for r in lost((i,)):
                    found[r].add(i)
    return found


def _group_test(lost: Lost, order: list[int], found: list[set[int]]) -> None:
    """Blocks of about sqrt(n) lines, halved while they lose rows. When the left half loses none,
    the right half is taken to hold the block's carriers untested (its lines are still tested one
    by one before any is called a carrier); where both halves lose rows, carriers are dense and
    each line is tested on its own."""
    size = max(2, math.isqrt(len(order)))
    for start in range(0, len(order), size):
        block = order[start : start + size]
        if lost(block):
            _split(lost, block, found, dense=False)


def _split(lost: Lost, block: list[int], found: list[set[int]], *, dense: bool) -> None:
    """Find the carriers in ``block``, whose removal loses some gold row."""
    if dense or len(block) <= 3:
        for line in block:
            for r in lost((line,)):
                found[r].add(line)
        return
    left, right = block[: len(block) // 2], block[len(block) // 2 :]
    if not lost(left):
        _split(lost, right, found, dense=False)
        return
    right_loses = bool(lost(right))
    _split(lost, left, found, dense=right_loses)
    if right_loses:
        _split(lost, right, found, dense=True)


def group_testable(item: GoldItem | Instance, builder: InstanceBuilder, relevant: Sequence[int]) -> bool:
    """Whether the instance's carriers may be searched by group testing (:func:`removal_monotone`,
    with SUM allowed where it adds up non-negative terms in this instance)."""
    tree = parse(item.sql)
    sums = tree.find(exp.Sum) is not None and _sums_nonnegative(tree, builder, item, relevant)
    return removal_monotone(tree, sums_nonnegative=sums)


def removal_monotone(tree: exp.Expr, *, sums_nonnegative: bool = False) -> bool:
    """Whether a row lost when one line goes stays lost when more go, judged from the query's
    shape (the group-testing assumption); False wherever removals could cancel or restore.
    ``sums_nonnegative``: every SUM adds up non-negative terms, so it too only falls as rows go."""
    one_way = (*_ONE_WAY, exp.Sum) if sums_nonnegative else _ONE_WAY
    for node in tree.walk():
        if isinstance(node, exp.AggFunc) and not isinstance(node, one_way):
            return False
        if isinstance(node, exp.Except | exp.Window | exp.Offset):
            return False
        if isinstance(node, exp.Join) and (node.side or node.kind in {"ANTI", "OUTER"}):
            return False
        if isinstance(node, exp.Not) and node.find(exp.Select) is not None:
            return False
        if isinstance(node, (*_ARITHMETIC, *_COMPARISONS)):
            aggregates = list(node.find_all(exp.AggFunc))
            if aggregates and (isinstance(node, (*_ARITHMETIC, exp.NEQ)) or len(aggregates) > 1):
                return False
        if isinstance(node, exp.Select) and node is not tree and not _membership(node):
            return False  # a scalar subquery, a CTE
    return True


def _sums_nonnegative(
    tree: exp.Expr, builder: InstanceBuilder, item: GoldItem | Instance, relevant: Sequence[int]
) -> bool:
    """Every SUM's argument is columns and non-negative numbers joined by + and *, and no column
    it names holds a negative (or non-numeric) value in the instance's relevant rows."""
    names = set()
    for total in tree.find_all(exp.Sum):
        for node in total.this.walk():
            if not isinstance(node, _SUM_TERMS):
                return False
            if isinstance(node, exp.Literal) and (node.is_string or float(node.this) < 0):
                return False
            if isinstance(node, exp.Column):
                names.add(node.name.lower())
    db = builder.db
    for i in relevant:
        line = item.lines[i]
        for name, value in zip(db.schema(line.table).column_names, db.rows(line.table)[line.row], strict=True):
            if name.lower() not in names or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value < 0:
                return False
    return True


def _membership(select: exp.Select) -> bool:
    """A nested SELECT used as a table, a set operand, or the right side of IN / EXISTS."""
    parent = select.parent
    while isinstance(parent, exp.Subquery | exp.Union | exp.Intersect):
        parent = parent.parent
    return parent is None or isinstance(parent, exp.In | exp.Exists | exp.From | exp.Join)


def _counted_by_all(tree: exp.Query, gold: list[list[Any]], relevant: list[int]) -> list[set[int]] | None:
    """A COUNT(*) over one table with no filter, grouping or limit, equal to the number of
    relevant lines: every line carries it (removing any one changes the count)."""
    if not isinstance(tree, exp.Select) or len(gold) != 1 or len(list(tree.find_all(exp.Table))) != 1:
        return None
    if any(tree.args.get(k) for k in ("where", "group", "having", "limit", "offset", "joins", "distinct")):
        return None
    if tree.find(exp.Subquery, exp.Window) is not None:
        return None
    for k, projection in enumerate(tree.expressions):
        node = projection.unalias()
        if isinstance(node, exp.Count) and isinstance(node.this, exp.Star) and gold[0][k] == len(relevant):
            return [set(relevant)]
    return None


def unmatched(gold: Sequence[Sequence[Any]], rows: Sequence[Sequence[Any]]) -> frozenset[int]:
    """Indices of the gold rows that ``rows`` does not hold, matched one for one: equal values
    first, then numbers within 1e-9 (``holobench.oracle.values_equal``)."""
    pool = Counter(_key(row) for row in rows)
    missing = []
    for i, row in enumerate(gold):
        key = _key(row)
        if pool[key] > 0:
            pool[key] -= 1
        else:
            missing.append(i)
    if not missing:
        return frozenset()
    spare = []
    for row in rows:
        if pool[_key(row)] > 0:
            pool[_key(row)] -= 1
            spare.append(row)
    lost = set()
    for i in missing:
        j = next((j for j, row in enumerate(spare) if _close(gold[i], row)), None)
        if j is None:
            lost.add(i)
        else:
            spare.pop(j)
    return frozenset(lost)


def _equal_rows(gold: Sequence[Sequence[Any]]) -> list[list[int]]:
    """Indices of gold rows that occur more than once, grouped."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(gold):
        groups.setdefault(_key(row), []).append(i)
    return [copies for copies in groups.values() if len(copies) > 1]


def _key(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(v if isinstance(v, str | int | float | None) else repr(v) for v in row)


def _close(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))


def _texts(item: GoldItem | Instance, builder: InstanceBuilder, relevant: list[int]) -> dict[int, Prepared]:
    """The relevant lines' text: the context itself when the item has it, else the sentences."""
    if isinstance(item, Instance):
        lines = item.context.split(SEPARATOR)
        return {i: Prepared(lines[i]) for i in relevant}
    db = builder.db
    texts = {}
    for i in relevant:  # row by row: verbalizing a whole table can take seconds
        table, row = item.lines[i].table, item.lines[i].row
        values = dict(zip(db.schema(table).column_names, db.rows(table)[row], strict=True))
        texts[i] = Prepared(db.verbalizer(table).verbalize_rows([values])[0])
    return texts


def _tie_carriers(
    item: GoldItem | Instance, row: Sequence[Any], relevant: list[int], texts: dict[int, Prepared]
) -> list[int]:
    """Lines holding the row's values; for an answer over nothing (NULL, a zero count), which no
    line holds and every line bears out, or when none holds them: answer lines, else all."""
    values = [v for v in row if v is not None]
    if not degenerate_rows([row]):
        holding = [i for i in relevant if all(value_present(v, texts[i]) for v in values)]
        if holding:
            return holding
    answers = [i for i in relevant if item.lines[i].answer]
    return answers or relevant


class _Without:
    """The query on the instance's relevant rows less some lines, many times over: the rows are
    loaded once with a keep flag behind a view per table, the query is transpiled once, and a
    test only rewrites the flags. Everything it creates is dropped on close."""

    def __init__(self, builder: InstanceBuilder, query: Query, item: GoldItem | Instance, relevant: list[int]) -> None:
        self.tree = parse(query.sql, query.dialect)
        self.con = _connection(builder)
        self._created: list[tuple[str, str]] = []
        picked: dict[str, list[tuple[int, int]]] = {t: [] for t in builder.relevant_tables(query)}
        for i in relevant:
            line = item.lines[i]
            if line.table not in picked:
                where = f"instance {item.id}: relevant line {i}"
                raise HoloBenchError(f"{where} is from {line.table}, not a table of its query")
            picked[line.table].append((line.row, i))
        try:
            schema = {table: self._load(builder, table, sorted(pairs)) for table, pairs in picked.items()}
            self._sql = to_duckdb(with_tiebreak(self.tree, query.dialect), schema, query.dialect)
        except Exception:
            self.close()
            raise

    def _load(self, builder: InstanceBuilder, table: str, pairs: list[tuple[int, int]]) -> dict[str, str]:
        """Rows in natural order, as ``InstanceBuilder.gold`` loads them, plus line and flag."""
        columns = [(c.name, c.type) for c in builder.db.schema(table).columns]
        rows = builder.db.rows(table)
        values = [[rows[r][k] for r, _ in pairs] for k in range(len(columns))]
        base = f"__holobench_rows_{len(self._created)}"
        self._created.append(("TABLE", base))
        load_table(
            self.con,
            base,
            [*columns, (_LINE, "INTEGER"), (_KEEP, "BOOLEAN")],
            [*values, [i for _, i in pairs], [True] * len(pairs)],
        )
        names = ", ".join(f'"{name}"' for name, _ in columns)
        self._created.append(("VIEW", table))
        self.con.execute(f'CREATE VIEW "{table}" AS SELECT {names} FROM "{base}" WHERE "{_KEEP}"')
        return dict(columns)

    def rows(self, removed: Collection[int]) -> list[list[Any]]:
        drop = sorted(removed)
        keep = f'NOT list_contains({drop}, "{_LINE}")' if drop else "true"
        flags = "".join(f'UPDATE "{base}" SET "{_KEEP}" = {keep}; ' for kind, base in self._created if kind == "TABLE")
        try:
            raw = self.con.execute(flags + self._sql).fetchall()
        except duckdb.InterruptException as exc:
            raise HoloBenchError(f"the search ran longer than {query_timeout():g} s and was stopped") from exc
        except duckdb.Error as exc:
            raise HoloBenchError(f"DuckDB could not rerun the query: {str(exc).splitlines()[0]}") from exc
        return finish_rows(self.tree, raw)

    def close(self) -> None:
        for kind, name in reversed(self._created):
            self.con.execute(f'DROP {kind} IF EXISTS "{name}"')
        self._created.clear()

    def __enter__(self) -> _Without:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


#: One locked connection per builder (opening one costs tens of milliseconds), closed with it.
_CONNECTIONS: weakref.WeakKeyDictionary[InstanceBuilder, duckdb.DuckDBPyConnection] = weakref.WeakKeyDictionary()


def _connection(builder: InstanceBuilder) -> duckdb.DuckDBPyConnection:
    con = _CONNECTIONS.get(builder)
    if con is None:
        con = _CONNECTIONS[builder] = new_connection()
        lock_down(con)
    return con
