"""Which relevant rows go into an instance: ``uniform`` (the paper's protocol) or ``answerable``.

Uniform sampling draws relevant rows at random, so a join of two samples or a selective WHERE
clause often finds nothing, and the gold answer is empty by accident. Answerable sampling fills
the relevant-row budget (the same amount or density, in tokens) with

* **answer rows**: witnesses of the query's provenance (``holobench.provenance``), each with
  the rows its foreign keys point to among the tables the query reads (FK closure), up to a
  share ``positives`` of the budget; group by group for a HAVING or INTERSECT query (a group
  only answers when enough of it is there), else round-robin over groups so a ranking sees
  many groups;
* **near misses**: rows of the same tables that are in no witness (they fail a filter or join
  nothing), in seeded order: same table, same sentence shape, wrong answer;
* answer rows again if near misses run out.

When the first draws fail the check (a HAVING threshold such as ``COUNT(*) > 20`` per country,
or a top-5 ranking that found fewer than five rows), the later attempts give answer rows the
whole budget.

An **unanswerable** instance withholds every answer row and fills the budget with near misses
only. Gold is then computed on exactly the chosen rows as before, and checked: an answerable
instance must have a non-degenerate answer, an unanswerable one an empty (or NULL, or zero)
answer. A draw that fails the check is redrawn with the next attempt number; after
``ATTEMPTS`` the cell is reported as impossible rather than built wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from holobench.database import Database
from holobench.lines import Line, TableLines, round_robin, seeded_rng
from holobench.provenance import Provenance, RowRef, Witness
from holobench.records import Result

DEFAULT_POSITIVES = 0.5
ATTEMPTS = 4
# At most half of a suite's instances are withheld: a benchmark of abstention is another benchmark.
MAX_UNANSWERABLE = 0.5


class Sampling(StrEnum):
    UNIFORM = "uniform"
    ANSWERABLE = "answerable"


@dataclass(frozen=True)
class Draw:
    """Relevant lines in their seeded order, and which of them are answer rows."""

    lines: list[Line]
    answers: frozenset[RowRef]


def degenerate(gold: Result) -> bool:
    """Empty, all NULL, or a lone zero: what an answer over nothing looks like."""
    return degenerate_rows(gold.rows)


def degenerate_rows(rows: Sequence[Sequence[Any]]) -> bool:
    if not rows or all(v is None for row in rows for v in row):
        return True
    return len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] == 0


def acceptable(gold: Result, prov: Provenance, answerable: bool, attempt: int) -> bool:
    """The check a draw must pass; a LIMIT k ranking wants k rows while redraws remain."""
    if not answerable:
        return degenerate(gold)
    if degenerate(gold):
        return False
    wanted = min(prov.limit or 0, len(prov.groups))
    return attempt == ATTEMPTS - 1 or len(gold.rows) >= wanted


class AnswerableSampler:
    """Draws answer rows and near misses for one query over one database."""

    def __init__(self, db: Database, lines: TableLines, prov: Provenance, tables: Sequence[str]) -> None:
        self.db = db
        self.lines = lines
        self.prov = prov
        self.tables = list(tables)
        self._near = prov.near_misses(db, self.tables)
        # Rows of relevant tables the provenance does not reach: neither answer nor near miss.
        self._untraced = {t: list(range(db.row_count(t))) for t in self.tables if t not in prov.traced}
        self._parents: dict[tuple[str, str, str, str], dict[Any, list[int]]] = {}
        self._relevant = {t.lower(): t for t in self.tables}
        self._units_cache: dict[tuple[tuple[object, ...], int], list[Witness]] = {}
        self._pool_cache: dict[tuple[tuple[object, ...], int], list[Line]] = {}

    def can_withhold(self) -> bool:
        """Whether an unanswerable instance can be drawn: some near miss exists."""
        return any(self._near.values())

    def draw(self, budget: int, *, positives: float, answerable: bool, parts: tuple[object, ...], attempt: int) -> Draw:
        """Answer rows up to ``positives`` of the budget (none when unanswerable), then near
        misses, then answer rows again; returned in a seeded order."""
        chosen: dict[RowRef, Line] = {}
        answers: set[RowRef] = set()
        units = self._units(parts, attempt) if answerable else []
        # Later attempts, after draws that failed the check, give answer rows the whole budget: a
        # HAVING threshold or a top-k ranking may need more rows than the share holds.
        share = positives if attempt < ATTEMPTS // 2 else 1.0
        used = self._fill(units, chosen, answers, max(int(budget * share), 1), 0, first_cap=budget)
        for line in self._pool(parts, attempt):
            key = (line.table, line.row)
            if key in chosen:
                continue
            if used + line.tokens_sep > budget:
                break
            chosen[key] = line
            used += line.tokens_sep
        if answerable and used < budget:
            self._fill(units, chosen, answers, budget, used)
        ordered = list(chosen.values())
        seeded_rng(*parts, "order", attempt).shuffle(ordered)
        return Draw(ordered, frozenset(answers))

    # ------------------------------------------------------------------ answer rows
    def _units(self, parts: tuple[object, ...], attempt: int) -> list[Witness]:
        """Witnesses in the order they are tried: group by group (HAVING, INTERSECT: a group only
        answers when enough of it is there), else round-robin over groups."""
        key = (parts, attempt)
        if key not in self._units_cache:
            rng = seeded_rng(*parts, "answer", attempt)
            groups = [list(g) for g in self.prov.groups]
            rng.shuffle(groups)
            for g in groups:
                rng.shuffle(g)
            # Group by group when HAVING or INTERSECT decides, else round-robin over groups.
            units = [w for g in groups for w in g] if self.prov.having else round_robin(groups)
            _remember(self._units_cache, key, units)
        return self._units_cache[key]

    def _fill(
        self,
        units: Iterable[Witness],
        chosen: dict[RowRef, Line],
        answers: set[RowRef],
        cap: int,
        used: int,
        first_cap: int | None = None,
    ) -> int:
        """Add witnesses with their FK closure, in order, until the next does not fit under
        ``cap``; the first may use up to ``first_cap`` so that a large witness still answers."""
        for unit in units:
            refs = [r for r in self._closure(unit) if r not in chosen]
            if not refs:
                continue
            lines = [self._line(r) for r in refs]
            cost = sum(x.tokens_sep for x in lines)
            limit = first_cap if first_cap is not None and not answers else cap
            if used + cost > limit:
                if answers:
                    break
                continue
            for ref, line in zip(refs, lines, strict=True):
                chosen[ref] = line
                answers.add(ref)
            used += cost
        return used

    def _closure(self, witness: Witness) -> list[RowRef]:
        """The witness's rows and, transitively, the rows their foreign keys reference among the
        tables the query reads (a sampled flight brings its plane)."""
        out: dict[RowRef, None] = dict.fromkeys(witness)
        todo = list(witness)
        while todo:
            table, row = todo.pop()
            schema = self.db.schema(table)
            values = self.db.rows(table)[row]
            for fk in schema.foreign_keys:
                parent = self._relevant.get(fk.ref_table.lower())
                if parent is None:
                    continue
                value = values[schema.column_names.index(fk.column)]
                for ref_row in self._parent_index(table, fk.column, parent, fk.ref_column).get(value, []):
                    if (parent, ref_row) not in out:
                        out[(parent, ref_row)] = None
                        todo.append((parent, ref_row))
        return list(out)

    def _parent_index(self, child: str, column: str, parent: str, ref_column: str) -> dict[Any, list[int]]:
        key = (child, column, parent, ref_column)
        if key not in self._parents:
            index: dict[Any, list[int]] = {}
            at = self.db.schema(parent).column_names.index(ref_column)
            for i, values in enumerate(self.db.rows(parent)):
                if values[at] is not None:
                    index.setdefault(values[at], []).append(i)
            self._parents[key] = index
        return self._parents[key]

    # ------------------------------------------------------------------ near misses
    def _pool(self, parts: tuple[object, ...], attempt: int) -> list[Line]:
        """Near misses (and rows of untraced tables), round-robin over tables in seeded order."""
        key = (parts, attempt)
        if key not in self._pool_cache:
            names = sorted({*self._near, *self._untraced})
            queues = []
            for table in names:
                rows = list(self._near.get(table) or self._untraced.get(table) or [])
                seeded_rng(*parts, "near", table, attempt).shuffle(rows)
                queues.append(rows)
            pool = round_robin([[self._line((t, r)) for r in q] for t, q in zip(names, queues, strict=True)])
            _remember(self._pool_cache, key, pool)
        return self._pool_cache[key]

    def _line(self, ref: RowRef) -> Line:
        return self.lines.lines(ref[0])[ref[1]]


def _remember(cache: dict[Any, Any], key: Any, value: Any, size: int = 8) -> None:
    """Keep the last ``size`` entries: a query's cells revisit a few (seed, attempt) keys."""
    if len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value
