"""Read SQLite files into DuckDB through Python's sqlite3 (works offline, unlike DuckDB's scanner)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from holobench.database import Database, load_table, lock_down, new_connection, schema_from
from holobench.errors import SourceError
from holobench.records import ForeignKey
from holobench.sources.base import Source
from holobench.sources.coerce import coerce_column
from holobench.verbalize.generic import GenericVerbalizer


class KeyHints:
    """Primary and foreign keys from outside the file (Spider's tables.json), by table name."""

    def __init__(
        self,
        primary: Mapping[str, Sequence[str]] | None = None,
        foreign: Mapping[str, Sequence[ForeignKey]] | None = None,
    ) -> None:
        self.primary = {k.lower(): list(v) for k, v in (primary or {}).items()}
        self.foreign = {k.lower(): list(v) for k, v in (foreign or {}).items()}


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise SourceError(f"{path}: SQLite file not found; check the path (expected <db_id>/<db_id>.sqlite)")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: not a readable SQLite database ({exc}); rebuild or re-download the file") from exc
    con.text_factory = lambda b: b.decode("utf-8", errors="replace")
    return con


def sqlite_tables(path: Path) -> list[str]:
    con = _connect(path)
    try:
        return _user_tables(con)
    finally:
        con.close()


def _user_tables(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    return [r[0] for r in rows]


def load_sqlite(
    path: Path,
    db_id: str,
    *,
    origin: str,
    hints: KeyHints | None = None,
    tables: Sequence[str] | None = None,
) -> Database:
    """Load every user table of a SQLite file (or ``tables``) into an in-memory DuckDB database."""
    hints = hints or KeyHints()
    con = _connect(path)
    duck = new_connection()
    schemas = []
    notes: list[str] = []
    try:
        present = _user_tables(con)
        wanted = present if tables is None else list(tables)
        for table in wanted:
            if table not in present:
                raise SourceError(f"{path}: table {table!r} is not in the file; tables present: {', '.join(present)}")
            info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
            names = [r[1] for r in info]
            declared = [r[2] or "" for r in info]
            pk_in_file = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
            alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in {n.lower() for n in names}), None)
            try:
                if alias is None:  # every rowid alias is a user column: fall back to storage order
                    raise sqlite3.OperationalError("no rowid alias")
                raw = con.execute(f'SELECT * FROM "{table}" ORDER BY {alias}').fetchall()
            except sqlite3.OperationalError:  # WITHOUT ROWID tables keep primary-key order
                raw = con.execute(f'SELECT * FROM "{table}"').fetchall()
            except sqlite3.DatabaseError as exc:
                raise SourceError(f"{path}: cannot read table {table!r} ({exc}); the file may be corrupt") from exc
            columns_raw = [list(col) for col in zip(*raw, strict=True)] if raw else [[] for _ in names]
            typed_cols: list[tuple[str, str, str]] = []
            values: list[list[object]] = []
            for name, decl, col_values in zip(names, declared, columns_raw, strict=True):
                duck_type, coerced, note = coerce_column(col_values, decl)
                if note:
                    notes.append(f"{table}.{name}: {note}")
                typed_cols.append((name, duck_type, decl))
                values.append(coerced)
            load_table(duck, table, [(n, t) for n, t, _ in typed_cols], values)
            fks = [
                ForeignKey(column=r[3], ref_table=r[2], ref_column=r[4] or "")
                for r in con.execute(f'PRAGMA foreign_key_list("{table}")').fetchall()
            ]
            pk = pk_in_file or hints.primary.get(table.lower(), [])
            fks = fks or hints.foreign.get(table.lower(), [])
            schemas.append(schema_from(table, typed_cols, pk, fks, len(raw)))
    except Exception:
        duck.close()
        raise
    finally:
        con.close()
    lock_down(duck)
    return Database(
        db_id, duck, schemas, origin=origin, sqlite_path=path, notes=notes, default_verbalizer=GenericVerbalizer
    )


class SqliteFileSource(Source):
    """A single SQLite file; its database id is the file's stem."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def list_databases(self) -> list[str]:
        return [self.path.stem]

    def open(self, db_id: str) -> Database:
        if db_id != self.path.stem:
            raise self._unknown(db_id)
        return load_sqlite(self.path, db_id, origin=self.describe())
