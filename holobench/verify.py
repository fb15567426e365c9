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

from pydantic import BaseModel, ConfigDict

from holobench.context import InstanceBuilder
from holobench.database import Database
from holobench.environment import GENERATION_PACKAGES, versions
from holobench.errors import HoloBenchError
from holobench.jsonl import read_instances
from holobench.lines import Line
from holobench.oracle import rows_equal
from holobench.records import Category, Difficulty, Instance, LineSource, Query, Result
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


def verify_gold(path: Path, progress: Callable[[int], None] | None = None) -> GoldCheck:
    """Recompute the gold of every instance in ``path`` (a file, or a suite folder)."""
    target = path / "instances.jsonl" if path.is_dir() else path
    sources: dict[str, Source] = {}
    builders: dict[tuple[str, str], InstanceBuilder] = {}
    agree, differ, total = 0, [], 0
    for item in read_instances(target, None, GoldItem):
        total += 1
        builder = builders.get((item.source, item.db_id))
        if builder is None:
            source = sources.setdefault(item.source, _open(item.source, target))
            builder = builders.setdefault((item.source, item.db_id), _builder(source.open(item.db_id)))
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


def _open(spec: str, where: Path) -> Source:
    try:
        return open_source(spec)
    except HoloBenchError as exc:
        raise HoloBenchError(f"{where}: cannot open the instances' source {spec!r} to recompute gold ({exc})") from exc


def _builder(db: Database) -> InstanceBuilder:
    # Gold needs the rows only: the tokenizer is never used to count anything here.
    return InstanceBuilder(db, get_tokenizer())
