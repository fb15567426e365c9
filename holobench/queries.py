"""Query files (``queries/<db_id>.yaml``): loading with precise errors, and validation reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from holobench.database import Database
from holobench.errors import HoloBenchError, QueryError, field_problem
from holobench.records import Category, Query
from holobench.sql import parse, suggest_categories, tables_used


class QueryFile(BaseModel):
    path: Path
    db_id: str
    queries: list[Query]


def load_query_file(path: Path) -> QueryFile:
    """Parse and check the structure of a query file; every problem names the file and query id."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"{path}: cannot read query file ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise QueryError(f"{path}: not UTF-8 text; a query file is YAML saved as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise QueryError(f"{path}:{where} malformed YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from exc
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise QueryError(f"{path}: expected a mapping with 'db_id' and a 'queries' list")
    db_id = data.get("db_id") or path.stem
    queries: list[Query] = []
    seen: set[str] = set()
    for i, item in enumerate(data["queries"]):
        qid = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
        if not isinstance(item, dict):
            raise QueryError(f"{path}: query {qid}: expected a mapping with id, question, sql, categories, difficulty")
        try:
            query = Query.model_validate({"db_id": db_id, **item})
        except ValidationError as exc:
            raise QueryError(f"{path}: query {qid}: {field_problem(exc.errors()[0], 'query')}") from exc
        if query.id in seen:
            raise QueryError(f"{path}: query {query.id}: id used twice; ids must be unique")
        seen.add(query.id)
        try:
            parse(query.sql, query.dialect)
        except QueryError as exc:
            raise QueryError(f"{path}: query {query.id}: {exc}") from exc
        queries.append(query)
    return QueryFile(path=path, db_id=db_id, queries=queries)


@dataclass
class QueryReport:
    """What validation found for one query."""

    query: Query
    tables: list[str] = field(default_factory=list)
    rows: int | None = None
    suggested: list[Category] = field(default_factory=list)
    error: str | None = None

    @property
    def categories_agree(self) -> bool:
        return set(self.suggested) == set(self.query.categories)

    @property
    def ok(self) -> bool:
        return self.error is None and self.categories_agree


def validate_query(db: Database, query: Query) -> QueryReport:
    report = QueryReport(query=query)
    try:
        tree = parse(query.sql, query.dialect)
        report.suggested = sorted(suggest_categories(tree), key=list(Category).index)
        report.tables = [db.table_name(t) for t in tables_used(tree)]
        report.rows = len(db.execute(query.sql, query.dialect).rows)
    except HoloBenchError as exc:
        report.error = str(exc)
    return report


def validate_queries(db: Database, queries: Sequence[Query]) -> list[QueryReport]:
    return [validate_query(db, q) for q in queries]
