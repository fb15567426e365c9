"""Shared helpers of the source tests: real SQLite files, Spider folders and hub exports built on disk."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import strategies as st

from holobench.sources import (
    Database,
    SpiderSource,
)

ROOT = Path(__file__).resolve().parents[2]


SPIDER = ROOT.parent / "shared" / "spider"


HUB = ROOT / "tests" / "fixtures" / "hub"


BUNDLED_IDS = ["baseball", "nycflights", "store_1"]


SPIDER_IDS = ["college_2", "flight_4", "store_1", "wine_1"]


HUB_TABLES = ["dummy", "grapes", "wine"]


def one_line(message: str) -> str:
    assert message, "error message is empty"
    assert "\n" not in message and "\r" not in message, f"error message spans lines: {message!r}"
    return message


def write_sqlite(path: Path, ddl: str, rows: dict[str, Sequence[Sequence[Any]]] | None = None) -> Path:
    """Create a SQLite file from DDL and insert rows (in the given order) into the named tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(ddl)
        for table, values in (rows or {}).items():
            for row in values:
                marks = ", ".join("?" for _ in row)
                con.execute(f'INSERT INTO "{table}" VALUES ({marks})', tuple(row))
        con.commit()
    finally:
        con.close()
    return path


def make_spider(
    root: Path,
    databases: dict[str, tuple[str, dict[str, Sequence[Sequence[Any]]]]],
    tables_json: Any = None,
    *,
    db_dir: str = "database",
    schema_file: str = "tables.json",
) -> Path:
    """A Spider-layout folder: <root>/<db_dir>/<db_id>/<db_id>.sqlite and an optional schema file."""
    for db_id, (ddl, rows) in databases.items():
        write_sqlite(root / db_dir / db_id / f"{db_id}.sqlite", ddl, rows)
    if tables_json is not None:
        text = tables_json if isinstance(tables_json, str) else json.dumps(tables_json)
        (root / schema_file).write_text(text, encoding="utf-8")
    return root


def spider_entry(
    db_id: str,
    tables: dict[str, list[str]],
    primary: Iterable[tuple[str, str]] = (),
    foreign: Iterable[tuple[tuple[str, str], tuple[str, str]]] = (),
) -> dict[str, Any]:
    """A tables.json entry built from table -> columns, with keys given by (table, column)."""
    names = list(tables)
    columns: list[list[Any]] = [[-1, "*"]]
    for i, table in enumerate(names):
        columns.extend([i, c] for c in tables[table])

    def index(table: str, column: str) -> int:
        return columns.index([names.index(table), column])

    return {
        "db_id": db_id,
        "table_names_original": names,
        "table_names": names,
        "column_names_original": columns,
        "column_names": columns,
        "column_types": ["text"] * len(columns),
        "primary_keys": [index(t, c) for t, c in primary],
        "foreign_keys": [[index(*src), index(*dst)] for src, dst in foreign],
    }


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        con.close()


def hub_records(config: str, split: str) -> list[dict[str, Any]]:
    text = (HUB / config / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_locked(db: Database, probe_file: Path) -> None:
    """After loading, the DuckDB connection can neither read nor write files, nor be unlocked."""
    probe_file.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(duckdb.Error):
        db.connection.execute(f"SELECT * FROM read_csv('{probe_file}')").fetchall()
    with pytest.raises(duckdb.Error):
        db.connection.execute(f"COPY (SELECT 1 AS x) TO '{probe_file.with_suffix('.out.csv')}'")
    with pytest.raises(duckdb.Error):
        db.connection.execute("SET enable_external_access = true")
    assert not probe_file.with_suffix(".out.csv").exists()


def spider_db(spider_source: SpiderSource, cache: dict[str, Database], db_id: str) -> Database:
    if db_id not in cache:
        cache[db_id] = spider_source.open(db_id)
    return cache[db_id]


def _copy_without_keys(src: Path, dst: Path) -> None:
    """The same tables, declared types and rows, but no PRIMARY KEY / FOREIGN KEY clauses."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        tables = [
            r[0]
            for r in source.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        for table in tables:
            info = source.execute(f'PRAGMA table_info("{table}")').fetchall()
            cols = ", ".join(f'"{r[1]}" {r[2]}' for r in info)
            target.execute(f'CREATE TABLE "{table}" ({cols})')
            marks = ", ".join("?" for _ in info)
            target.executemany(
                f'INSERT INTO "{table}" VALUES ({marks})', source.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
            )
        target.commit()
    finally:
        source.close()
        target.close()


GOOD_DDL = "CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);"


GOOD_ROWS: dict[str, Sequence[Sequence[Any]]] = {"singer": [(1, "Ann"), (2, "Bo")]}


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


def _export(tmp_path: Path, records: dict[str, dict[str, list[dict[str, Any]]]]) -> Path:
    for config, splits in records.items():
        (tmp_path / config).mkdir(parents=True, exist_ok=True)
        for split, recs in splits.items():
            (tmp_path / config / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return tmp_path


def _fixture_records() -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {
        "wine_mini": {t: hub_records("wine_mini", t) for t in HUB_TABLES},
        "queries": {"wine_mini": hub_records("queries", "wine_mini")},
    }


def _write_parquet(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_parquet(path, index=False)
