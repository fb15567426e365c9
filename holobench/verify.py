"""Recompute every gold answer of an instances file with the engines installed here.

Gold answers are computed once, at generation, by the DuckDB and sqlglot of that machine. A
leaderboard operator, or anyone given an instances file, can check that the engines they have
agree: each instance's query runs again on exactly the relevant rows its ``lines`` name, read from
the instance's own source, and the answer is compared with the stored gold (numbers to 1e-9).
``leaderboard build --instances`` does this before ranking anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from holobench.context import InstanceBuilder
from holobench.database import Database
from holobench.environment import GENERATION_PACKAGES, versions
from holobench.errors import HoloBenchError
from holobench.jsonl import read_instances
from holobench.lines import Line
from holobench.oracle import rows_equal
from holobench.perturb import check_version, perturbed
from holobench.records import Category, Difficulty, Instance, LineSource, Perturbation, Query, Result
from holobench.sources import open_source
from holobench.sources.base import Source
from holobench.tokenizers import get_tokenizer


class GoldItem(BaseModel):
    """The part of an instance that decides its gold (the context is skipped by the parser)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    db_id: str
    source: str
    query_id: str
    sql: str
    categories: tuple[Category, ...]
    difficulty: Difficulty
    gold: Result
    lines: list[LineSource]
    perturbation: Perturbation | None = None


def query_of(item: GoldItem | Instance) -> Query:
    """The query an instance's gold was computed from (the question is not needed to recompute it)."""
    return Query(
        id=item.query_id,
        db_id=item.db_id,
        question="-",
        sql=item.sql,
        categories=item.categories,
        difficulty=item.difficulty,
    )


class GoldCheck(BaseModel):
    """How many stored gold answers the engines here reproduce, and which do not."""

    instances: int
    agree: int
    differ: list[str]  # instance ids, at most the first 50
    differ_count: int
    versions: dict[str, object]

    @property
    def ok(self) -> bool:
        return self.differ_count == 0


class GoldBuilders:
    """One gold builder per database (and perturbation) the instances name, opened on first use:
    gold is recomputed on exactly the database an instance was built from, rewritten or not."""

    def __init__(self, where: Path, purpose: str = "recompute gold") -> None:
        self.where = where
        self.purpose = purpose
        self.sources: dict[str, Source] = {}
        self.builders: dict[tuple[str, str, str, str], InstanceBuilder] = {}
        self.shipped: dict[tuple[str, str], set[str]] = {}

    def of(self, item: GoldItem) -> InstanceBuilder:
        if item.source not in self.sources:
            self.sources[item.source] = _open(item.source, self.where, self.purpose)
        source = self.sources[item.source]
        extra = ""
        if item.perturbation is not None:
            check_version(item.perturbation, f"{self.where}: instance {item.id}")
            # A perturbed database keeps the literals of the source's queries; an ad-hoc query adds its own.
            if (item.source, item.db_id) not in self.shipped:
                self.shipped[item.source, item.db_id] = {q.sql for q in source.queries(item.db_id)}
            extra = "" if item.sql in self.shipped[item.source, item.db_id] else item.sql
        key = (item.source, item.db_id, item.perturbation.model_dump_json() if item.perturbation else "", extra)
        if key not in self.builders:
            view = perturbed(source, item.perturbation, (extra,) if extra else ())
            try:
                db = view.open(item.db_id)
            except HoloBenchError as exc:
                raise HoloBenchError(
                    f"{self.where}: cannot open database {item.db_id!r} of the source {item.source!r} to "
                    f"{self.purpose} ({exc})"
                ) from exc
            self.builders[key] = _builder(db)
        return self.builders[key]


def verify_gold(path: Path, progress: Callable[[int], None] | None = None) -> GoldCheck:
    """Recompute the gold of every instance in ``path`` (a file, or a suite folder)."""
    target = path / "instances.jsonl" if path.is_dir() else path
    builders = GoldBuilders(target)
    agree, differ, total = 0, [], 0
    for item in read_instances(target, None, GoldItem):
        total += 1
        builder = builders.of(item)
        query = query_of(item)
        relevant = [Line(item.db_id, x.table, x.row, "", 0, 0) for x in item.lines if x.relevant]
        if rows_equal(builder.gold(query, relevant).rows, item.gold.rows):
            agree += 1
        else:
            differ.append(item.id)
        if progress is not None:
            progress(total)
    return GoldCheck(
        instances=total,
        agree=agree,
        differ=differ[:50],
        differ_count=len(differ),
        versions=versions(GENERATION_PACKAGES),
    )


def _open(spec: str, where: Path, purpose: str) -> Source:
    try:
        return open_source(spec)
    except HoloBenchError as exc:
        raise HoloBenchError(f"{where}: cannot open the instances' source {spec!r} to {purpose} ({exc})") from exc


def _builder(db: Database) -> InstanceBuilder:
    # Gold needs the rows only: the tokenizer is never used to count anything here.
    return InstanceBuilder(db, get_tokenizer())


class Change(BaseModel):
    """How a perturbed instance's gold differs from the answer the same query gives on the
    original database over the same rows (an instance's rows keep their places when perturbed)."""

    id: str
    differs: bool
    cells: int
    changed_cells: int  # gold cells with no equal cell left in the same column of the original answer


def original_changes(path: Path) -> dict[str, Change]:
    """For every perturbed instance in ``path``, what the perturbation changed in its gold."""
    target = path / "instances.jsonl" if path.is_dir() else path
    builders = GoldBuilders(target)
    changes: dict[str, Change] = {}
    for item in read_instances(target, None, GoldItem):
        if item.perturbation is None:
            continue
        relevant = [Line(item.db_id, x.table, x.row, "", 0, 0) for x in item.lines if x.relevant]
        original = builders.of(item.model_copy(update={"perturbation": None})).gold(query_of(item), relevant)
        changes[item.id] = Change(
            id=item.id,
            differs=not rows_equal(original.rows, item.gold.rows),
            cells=sum(len(r) for r in item.gold.rows),
            changed_cells=_changed_cells(item.gold.rows, original.rows),
        )
    return changes


def _changed_cells(gold: list[list[Any]], original: list[list[Any]]) -> int:
    """Gold cells without an equal one in the same column of ``original`` (each used once)."""
    changed = 0
    for j in range(max((len(r) for r in gold), default=0)):
        left = [_cell_key(r[j]) for r in original if j < len(r)]
        for row in gold:
            key = _cell_key(row[j]) if j < len(row) else None
            if key in left:
                left.remove(key)
            else:
                changed += 1
    return changed


def _cell_key(value: Any) -> Any:
    """Numbers compare to 9 significant digits, as gold is checked (1e-9 relative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(f"{float(value):.9g}")
