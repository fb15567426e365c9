"""Database sources and the ``kind:location`` spec the CLI and suites use to name them.

* ``bundled``                 the databases in data/ (default)
* ``spider:<dir>``            Spider/BIRD layout: database/<db_id>/<db_id>.sqlite + tables.json
* ``hub:<dir or owner/name>`` the official HoloBench format (local export or the hub)
* ``sqlite:<file>``           one SQLite file
* ``duckdb:<file>``           one DuckDB file
* ``files:<dir>``             a folder of CSV/Parquet files, one per table
"""

from __future__ import annotations

from pathlib import Path

from holobench.database import Database, Verbalizer
from holobench.errors import SourceError
from holobench.sources.base import Source
from holobench.sources.bundled import BundledSource
from holobench.sources.files import DuckDBFileSource, FilesSource
from holobench.sources.hub import HubSource
from holobench.sources.spider import SpiderSource
from holobench.sources.sqlite import SqliteFileSource

__all__ = [
    "BundledSource",
    "Database",
    "DuckDBFileSource",
    "FilesSource",
    "HubSource",
    "Source",
    "SpiderSource",
    "SqliteFileSource",
    "Verbalizer",
    "open_source",
]

KINDS = ("bundled", "spider", "hub", "sqlite", "duckdb", "files")


def open_source(spec: str = "bundled", templates: Path | None = None) -> Source:
    """Open a source from its ``kind:location`` spec."""
    kind, _, location = spec.partition(":")
    kind = kind.strip().lower()
    if templates is not None and kind != "spider":  # silently ignoring them would verbalize otherwise
        raise SourceError(
            f"--templates {templates}: applies to spider: sources only; a {kind}: source reads its "
            "templates from templates/<table>.j2 beside its data (see the README)"
        )
    if kind == "bundled":
        return BundledSource(Path(location)) if location else BundledSource()
    if not location:
        raise SourceError(f"source {spec!r} needs a location, e.g. {kind}:<path>; kinds: {', '.join(KINDS)}")
    path = Path(location).expanduser()
    if kind == "spider":
        return SpiderSource(path, templates=templates)
    if kind == "hub":
        return HubSource(location if not path.exists() else path)
    if kind == "sqlite":
        return SqliteFileSource(path)
    if kind == "duckdb":
        return DuckDBFileSource(path)
    if kind == "files":
        return FilesSource(path)
    raise SourceError(f"unknown source kind {kind!r} in {spec!r}; use one of: {', '.join(KINDS)}")


def open_database(db_id: str, source: str = "bundled") -> Database:
    """Shortcut: ``open_source(source).open(db_id)``."""
    return open_source(source).open(db_id)
