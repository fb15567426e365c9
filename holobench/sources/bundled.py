"""The bundled databases in ``data/`` and their query files in ``queries/``."""

from __future__ import annotations

import os
from pathlib import Path

from holobench.database import Database
from holobench.errors import SourceError
from holobench.records import Query
from holobench.sources.base import Source
from holobench.sources.sqlite import load_sqlite
from holobench.verbalize.templates import attach_templates


def _package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """``$HOLOBENCH_DATA``, else the repository's data/, else the copy installed in the wheel."""
    env = os.environ.get("HOLOBENCH_DATA")
    if env:
        return Path(env)
    for candidate in (_package_root().parent / "data", _package_root() / "_bundled" / "data"):
        if candidate.is_dir():
            return candidate
    raise SourceError("bundled data not found; set HOLOBENCH_DATA to the folder holding <db_id>/<db_id>.sqlite")


def queries_root() -> Path:
    env = os.environ.get("HOLOBENCH_QUERIES")
    if env:
        return Path(env)
    for candidate in (_package_root().parent / "queries", _package_root() / "_bundled" / "queries"):
        if candidate.is_dir():
            return candidate
    raise SourceError("bundled queries not found; set HOLOBENCH_QUERIES to the folder holding <db_id>.yaml")


class BundledSource(Source):
    """``data/<db_id>/<db_id>.sqlite`` with ``templates/<table>.j2`` and ``SOURCE.md``."""

    name = "bundled"
    needs_location = False

    @classmethod
    def from_location(cls, location: str, templates: Path | None = None) -> BundledSource:
        return cls(Path(location)) if location else cls()

    def __init__(self, root: Path | None = None, queries: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_root()
        self._queries = queries

    def describe(self) -> str:
        return "bundled"

    def list_databases(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/*.sqlite") if p.stem == p.parent.name)

    def open(self, db_id: str) -> Database:
        path = self.root / db_id / f"{db_id}.sqlite"
        if not path.is_file():
            raise self._unknown(db_id)
        db = load_sqlite(path, db_id, origin=self.describe())
        attach_templates(db, self.root / db_id / "templates")
        return db

    def query_file(self, db_id: str) -> Path:
        return (self._queries or queries_root()) / f"{db_id}.yaml"

    def queries(self, db_id: str) -> list[Query]:
        from holobench.queries import load_query_file

        path = self.query_file(db_id)
        return load_query_file(path).queries if path.is_file() else []
