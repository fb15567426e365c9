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

#: Every source kind, one line each: a new kind is a module with a Source subclass plus a line.
SOURCE_KINDS: dict[str, type[Source]] = {
    "bundled": BundledSource,
    "spider": SpiderSource,
    "hub": HubSource,
    "sqlite": SqliteFileSource,
    "duckdb": DuckDBFileSource,
    "files": FilesSource,
}
KINDS = tuple(SOURCE_KINDS)


def open_source(spec: str = "bundled", templates: Path | None = None) -> Source:
    """Open a source from its ``kind:location`` spec."""
    kind, _, location = spec.partition(":")
    kind = kind.strip().lower()
    source = SOURCE_KINDS.get(kind)
    if templates is not None and (source is None or not source.takes_templates):
        # silently ignoring them would verbalize otherwise
        raise SourceError(
            f"--templates {templates}: applies to spider: sources only; a {kind}: source reads its "
            "templates from templates/<table>.j2 beside its data (see the README)"
        )
    if source is not None and source.needs_location and not location:
        raise SourceError(f"source {spec!r} needs a location, e.g. {kind}:<path>; kinds: {', '.join(KINDS)}")
    if source is None:
        if not location:
            raise SourceError(f"source {spec!r} needs a location, e.g. {kind}:<path>; kinds: {', '.join(KINDS)}")
        raise SourceError(f"unknown source kind {kind!r} in {spec!r}; use one of: {', '.join(KINDS)}")
    return source.from_location(location, templates)


def open_database(db_id: str, source: str = "bundled") -> Database:
    """Shortcut: ``open_source(source).open(db_id)``."""
    return open_source(source).open(db_id)
