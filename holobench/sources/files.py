"""A folder of CSV or Parquet files (one table each), and a DuckDB database file."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from holobench.database import Database, lock_down, new_connection, schema_from
from holobench.errors import SourceError
from holobench.records import ForeignKey, TableSchema
from holobench.sources.base import Source
from holobench.verbalize.generic import GenericVerbalizer
from holobench.verbalize.templates import attach_templates

_SUFFIXES = {".csv": "read_csv", ".parquet": "read_parquet", ".tsv": "read_csv"}


class FilesSource(Source):
    """``<dir>/<table>.csv|.parquet``; the database id is the folder name.

    CSV types are sniffed by DuckDB; rows keep file order.  Templates may sit in
    ``<dir>/templates/<table>.j2``.
    """

    name = "files"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: folder not found; pass a folder of <table>.csv or <table>.parquet files")

    def describe(self) -> str:
        return f"files:{self.root}"

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.suffix.lower() in _SUFFIXES)

    def list_databases(self) -> list[str]:
        return [self.root.name] if self._files() else []

    def open(self, db_id: str) -> Database:
        if db_id != self.root.name:
            raise self._unknown(db_id)
        files = self._files()
        if not files:
            raise SourceError(f"{self.root}: no .csv or .parquet files; put one file per table in the folder")
        con = new_connection()
        con.execute("SET preserve_insertion_order = true")
        schemas: list[TableSchema] = []
        for path in files:
            reader = _SUFFIXES[path.suffix.lower()]
            try:
                text = reader == "read_csv"
                shape = _csv_shape(path, "\t" if path.suffix.lower() == ".tsv" else ",") if text else None
                options = ", header = true" if text else ""  # the sniffer may take an all-text header for data
                con.execute(f'CREATE TABLE "{path.stem}" AS SELECT * FROM {reader}(?{options})', [str(path)])
            except duckdb.Error as exc:
                con.close()
                raise SourceError(f"{path}: cannot read table {path.stem!r}: {str(exc).splitlines()[0]}") from exc
            except SourceError:
                con.close()
                raise
            schema = _describe_table(con, path.stem)
            if shape is not None and (len(schema.columns), schema.row_count) != shape:
                con.close()
                raise SourceError(
                    f"{path}: read as {len(schema.columns)} column(s) and {schema.row_count} row(s), but the file has "
                    f"{shape[0]} header field(s) and {shape[1]} data row(s); give it one header line and plain "
                    "comma-separated rows"
                )
            schemas.append(schema)
        lock_down(con)
        db = Database(db_id, con, schemas, origin=self.describe(), default_verbalizer=GenericVerbalizer)
        attach_templates(db, self.root / "templates")
        return db


def _csv_shape(path: Path, delimiter: str) -> tuple[int, int]:
    """(header fields, data rows) of a CSV, read strictly: every row as wide as the header, UTF-8,
    so no row or column can be lost silently on the way into DuckDB."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh, delimiter=delimiter)
            header = next(rows, None)
            if header is None:
                raise SourceError(f"{path}: empty file; a table needs a header line (and rows)")
            count = 0
            for row in rows:
                if not row:
                    continue  # a blank line holds no row
                if len(row) != len(header):
                    raise SourceError(
                        f"{path}: line {rows.line_num} has {len(row)} field(s), the header {len(header)}; "
                        "fix the row (quote values that contain commas)"
                    )
                count += 1
            return len(header), count
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 (byte {exc.start}); re-save the file as UTF-8") from exc
    except csv.Error as exc:
        raise SourceError(f"{path}: not a readable CSV ({exc})") from exc


def _describe_table(con: duckdb.DuckDBPyConnection, table: str) -> TableSchema:
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    pk: list[str] = []
    fks: list[ForeignKey] = []
    for ctype, columns, ref_table, ref_columns in con.execute(
        "SELECT constraint_type, constraint_column_names, referenced_table, referenced_column_names "
        "FROM duckdb_constraints() WHERE table_name = ?",
        [table],
    ).fetchall():
        if ctype == "PRIMARY KEY":
            pk = list(columns)
        elif ctype == "FOREIGN KEY" and ref_table:
            fks.extend(
                ForeignKey(column=c, ref_table=ref_table, ref_column=r)
                for c, r in zip(columns, ref_columns, strict=True)
            )
    return schema_from(table, [(c, t, t) for c, t in cols], pk, fks, int(count[0]) if count else 0)


class DuckDBFileSource(Source):
    """An existing DuckDB database file, opened read-only; its id is the file's stem."""

    name = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"duckdb:{self.path}"

    def list_databases(self) -> list[str]:
        return [self.path.stem]

    def open(self, db_id: str) -> Database:
        if db_id != self.path.stem:
            raise self._unknown(db_id)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: DuckDB file not found; check the path")
        try:
            con = new_connection(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise SourceError(f"{self.path}: not a readable DuckDB database: {str(exc).splitlines()[0]}") from exc
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "AND table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        schemas = [_describe_table(con, t) for t in tables]
        lock_down(con)
        db = Database(db_id, con, schemas, origin=self.describe(), default_verbalizer=GenericVerbalizer)
        attach_templates(db, self.path.parent / "templates" / db_id)
        return db
