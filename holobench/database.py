"""DuckDB, the embedded database every source loads into: connections, loading, and the
:class:`Database` that holds one database's schemas, rows in natural order, and sentences.

This sits below the sources and the verbalizers: a source builds a Database, and the layer above
attaches verbalizers to its tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

from holobench.errors import SourceError
from holobench.records import Column, ForeignKey, Result, TableSchema
from holobench.sql import execute_duckdb


class Verbalizer(Protocol):
    """Turns rows of one table into one sentence each, in the same order."""

    name: str

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]: ...

    def fingerprint(self) -> str | None:
        """A hash of everything besides the rows that decides the sentences (code, template,
        settings), so sentences can be reused from disk; None when they cannot be (an LLM)."""
        ...


class Database:
    """One database held in DuckDB: schemas, rows in natural order, and their sentences.

    Rows are stored in DuckDB in natural order (SQLite rowid order for SQLite sources, file order
    for CSV/Parquet) and read back ordered by DuckDB's rowid, so row ``i`` of a table is stable.
    """

    def __init__(
        self,
        db_id: str,
        connection: duckdb.DuckDBPyConnection,
        schemas: Sequence[TableSchema],
        *,
        origin: str,
        sqlite_path: Path | None = None,
        notes: Sequence[str] = (),
        default_verbalizer: Callable[[TableSchema], Verbalizer] | None = None,
    ) -> None:
        self.db_id = db_id
        self.connection = connection
        self._schemas = {s.name: s for s in schemas}
        self._lower = {s.name.lower(): s.name for s in schemas}
        self.origin = origin
        self.sqlite_path = sqlite_path
        self.notes = list(notes)
        self._default_verbalizer = default_verbalizer  # for tables no template covers
        self._verbalizers: dict[str, Verbalizer] = {}
        self._rows: dict[str, list[tuple[Any, ...]]] = {}
        self._sentences: dict[str, list[str]] = {}

    # ----------------------------------------------------------------- schema
    @property
    def tables(self) -> list[str]:
        return list(self._schemas)

    def table_name(self, name: str) -> str:
        """Canonical spelling of a table name (SQL identifiers are case-insensitive)."""
        try:
            return self._lower[name.lower()]
        except KeyError:
            raise SourceError(
                f"database {self.db_id!r} has no table {name!r}; tables: {', '.join(self.tables)}"
            ) from None

    def schema(self, table: str) -> TableSchema:
        return self._schemas[self.table_name(table)]

    @property
    def schemas(self) -> list[TableSchema]:
        return list(self._schemas.values())

    def sql_schema(self) -> dict[str, dict[str, str]]:
        """{table: {column: duckdb type}}, the form sqlglot's optimizer takes."""
        return {s.name: {c.name: c.type for c in s.columns} for s in self.schemas}

    # ----------------------------------------------------------------- rows
    def rows(self, table: str) -> list[tuple[Any, ...]]:
        name = self.table_name(table)
        if name not in self._rows:
            # DuckDB's rowid is insertion order, unless a user column is named rowid; then rely on
            # DuckDB's preserve_insertion_order for a plain scan.
            shadowed = any(c.lower() == "rowid" for c in self.schema(name).column_names)
            order = "" if shadowed else " ORDER BY rowid"
            self._rows[name] = self.connection.execute(f'SELECT * FROM "{name}"{order}').fetchall()
        return self._rows[name]

    def row_dicts(self, table: str) -> Iterator[dict[str, Any]]:
        cols = self.schema(table).column_names
        for r in self.rows(table):
            yield dict(zip(cols, r, strict=True))

    def row_count(self, table: str) -> int:
        return len(self.rows(table))

    # ----------------------------------------------------------------- verbalization
    def set_verbalizer(self, table: str, verbalizer: Verbalizer) -> None:
        name = self.table_name(table)
        self._verbalizers[name] = verbalizer
        self._sentences.pop(name, None)

    def verbalizer(self, table: str) -> Verbalizer:
        name = self.table_name(table)
        if name not in self._verbalizers:
            if self._default_verbalizer is None:
                raise SourceError(f"{self.db_id}.{name}: no verbalizer attached (the source that opened it sets one)")
            self._verbalizers[name] = self._default_verbalizer(self.schema(name))
        return self._verbalizers[name]

    def sentences(self, table: str) -> list[str]:
        """The verbalization of every row of ``table``, in natural order (cached)."""
        name = self.table_name(table)
        if name not in self._sentences:
            rows = list(self.row_dicts(name))
            out = self.verbalizer(name).verbalize_rows(rows)
            if len(out) != len(rows):
                raise SourceError(
                    f"verbalizer {self.verbalizer(name).name!r} returned {len(out)} sentences "
                    f"for {len(rows)} rows of {self.db_id}.{name}"
                )
            self._sentences[name] = out
        return self._sentences[name]

    def verbalize(self, table: str, index: int) -> str:
        return self.sentences(table)[index]

    # ----------------------------------------------------------------- SQL
    def execute(self, sql: str, dialect: str = "sqlite") -> Result:
        """Run a read-only query written in ``dialect`` on DuckDB, with SQLite semantics kept."""
        return execute_duckdb(self.connection, sql, self.sql_schema(), dialect=dialect)

    def close(self) -> None:
        self.connection.close()

    def __repr__(self) -> str:
        return f"Database({self.db_id!r}, tables={len(self._schemas)}, origin={self.origin!r})"


def new_connection(path: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(path, read_only=read_only, config={"threads": 1})


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """After loading, the connection can no longer read or write files."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def load_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: Sequence[tuple[str, str]],
    values_by_column: Sequence[Sequence[Any]],
) -> None:
    """Create ``name`` with the given (column, duckdb type) list and insert the values in order."""
    col_sql = ", ".join(f'"{c}" {t}' for c, t in columns)
    con.execute(f'CREATE TABLE "{name}" ({col_sql})')
    if not values_by_column or not len(values_by_column[0]):
        return
    frame = pd.DataFrame({f"c{i}": pd.Series(list(v), dtype=object) for i, v in enumerate(values_by_column)})
    con.register("__holobench_load", frame)
    try:
        con.execute(f'INSERT INTO "{name}" SELECT * FROM __holobench_load')
    finally:
        con.unregister("__holobench_load")


def schema_from(
    name: str,
    columns: Sequence[tuple[str, str, str]],
    primary_key: Sequence[str],
    foreign_keys: Sequence[ForeignKey],
    row_count: int,
) -> TableSchema:
    return TableSchema(
        name=name,
        columns=tuple(Column(name=c, type=t, declared_type=d) for c, t, d in columns),
        primary_key=tuple(primary_key),
        foreign_keys=tuple(foreign_keys),
        row_count=row_count,
    )
