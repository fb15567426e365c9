"""The bundled databases: the SQLite files in data/, their keys, types, templates and queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from holobench.errors import SourceError
from holobench.records import ForeignKey
from holobench.sources import (
    BundledSource,
    Database,
    open_source,
)
from holobench.sources.coerce import coerce

from .helpers import (
    BUNDLED_IDS,
    GOOD_DDL,
    GOOD_ROWS,
    assert_locked,
    one_line,
    sqlite_rows,
    write_sqlite,
)


def test_bundled_lists_exactly_the_three_databases(bundled_source: BundledSource) -> None:
    assert bundled_source.list_databases() == BUNDLED_IDS
    assert bundled_source.describe() == "bundled"


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_bundled_database_is_big_and_linked(bundled_databases: dict[str, Database], db_id: str) -> None:
    db = bundled_databases[db_id]
    assert db.db_id == db_id
    assert db.origin == "bundled"
    assert len(db.tables) >= 5
    assert sum(db.row_count(t) for t in db.tables) >= 10_000
    fks = [(s.name, fk) for s in db.schemas for fk in s.foreign_keys]
    assert fks, f"{db_id} has no foreign keys"
    for table, fk in fks:
        assert fk.column in db.schema(table).column_names
        assert fk.ref_column in db.schema(fk.ref_table).column_names, f"{table}.{fk.column} -> {fk}"
    for schema in db.schemas:
        assert schema.row_count == db.row_count(schema.name) > 0
        for key in schema.primary_key:
            assert key in schema.column_names


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_bundled_rows_are_the_sqlite_rows_in_rowid_order(bundled_databases: dict[str, Database], db_id: str) -> None:
    db = bundled_databases[db_id]
    assert db.sqlite_path is not None and db.sqlite_path.is_file()
    assert db.sqlite_path.name == f"{db_id}.sqlite"
    for schema in db.schemas:
        raw = sqlite_rows(db.sqlite_path, schema.name)
        types = [c.type for c in schema.columns]
        expected = [tuple(coerce(v, t) for v, t in zip(row, types, strict=True)) for row in raw]
        assert db.rows(schema.name) == expected, f"{db_id}.{schema.name} differs from SQLite's rowid order"
    assert db.notes == []  # bundled data needs no type fallback


@pytest.mark.parametrize(
    ("db_id", "table", "column", "duck_type", "declared"),
    [
        ("store_1", "invoices", "invoice_date", "TIMESTAMP", "TIMESTAMP"),
        ("store_1", "tracks", "unit_price", "DOUBLE", "NUMERIC(10,2)"),
        ("store_1", "tracks", "milliseconds", "BIGINT", "INTEGER"),
        ("store_1", "tracks", "name", "VARCHAR", "VARCHAR(255)"),
        ("nycflights", "flights", "flight_date", "DATE", "DATE"),
        ("nycflights", "weather", "time_hour", "TIMESTAMP", "TIMESTAMP"),
        ("nycflights", "airports", "lat", "DOUBLE", "REAL"),
        ("baseball", "players", "birth_date", "DATE", "DATE"),
        ("baseball", "teams", "era", "DOUBLE", "REAL"),
    ],
)
def test_bundled_column_types(
    bundled_databases: dict[str, Database], db_id: str, table: str, column: str, duck_type: str, declared: str
) -> None:
    db = bundled_databases[db_id]
    col = {c.name: c for c in db.schema(table).columns}[column]
    assert (col.type, col.declared_type) == (duck_type, declared)
    assert db.sql_schema()[table][column] == duck_type
    # the values really have that type in DuckDB
    got = db.connection.execute(f'SELECT typeof("{column}") FROM "{table}" WHERE "{column}" IS NOT NULL LIMIT 1')
    assert got.fetchone() == (duck_type,)


def test_bundled_keys(bundled_databases: dict[str, Database]) -> None:
    store = bundled_databases["store_1"]
    assert store.schema("playlist_tracks").primary_key == ("playlist_id", "track_id")
    assert ForeignKey(column="customer_id", ref_table="customers", ref_column="id") in (
        store.schema("invoices").foreign_keys
    )
    flights = bundled_databases["nycflights"].schema("flights")
    assert {fk.ref_table for fk in flights.foreign_keys} == {"airlines", "airports", "planes"}


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_bundled_tables_have_template_verbalizers(bundled_databases: dict[str, Database], db_id: str) -> None:
    db = bundled_databases[db_id]
    assert db.sqlite_path is not None
    templates = sorted(p.stem for p in (db.sqlite_path.parent / "templates").glob("*.j2"))
    assert templates == sorted(db.tables)
    for table in db.tables:
        name = db.verbalizer(table).name
        assert name == f"template:{table}.j2"
        sentences = db.sentences(table)
        assert len(sentences) == db.row_count(table)
        assert all(s and "\n" not in s for s in sentences)


def test_bundled_unknown_database_is_a_one_line_error(bundled_source: BundledSource) -> None:
    with pytest.raises(SourceError) as info:
        bundled_source.open("nope")
    message = one_line(str(info.value))
    assert "'nope'" in message
    for db_id in BUNDLED_IDS:
        assert db_id in message


def test_bundled_table_names_are_case_insensitive(bundled_databases: dict[str, Database]) -> None:
    db = bundled_databases["store_1"]
    assert db.table_name("TRACKS") == "tracks"
    assert db.rows("Tracks") is db.rows("tracks")
    with pytest.raises(SourceError, match="no table 'songs'"):
        db.schema("songs")


def test_bundled_queries_are_loaded(bundled_source: BundledSource) -> None:
    queries = bundled_source.queries("store_1")
    assert len(queries) >= 40
    assert all(q.db_id == "store_1" for q in queries)
    assert bundled_source.queries("no_such_db") == []


def test_bundled_source_with_another_root(tmp_path: Path) -> None:
    write_sqlite(tmp_path / "tiny" / "tiny.sqlite", GOOD_DDL, GOOD_ROWS)
    (tmp_path / "stray").mkdir()
    write_sqlite(tmp_path / "stray" / "other_name.sqlite", GOOD_DDL, GOOD_ROWS)  # stem != folder: not a database
    source = open_source(f"bundled:{tmp_path}")
    assert source.list_databases() == ["tiny"]
    db = source.open("tiny")
    assert db.verbalizer("singer").name == "generic"  # no templates folder
    assert db.rows("singer") == [(1, "Ann"), (2, "Bo")]


def test_database_execute_matches_sqlite(bundled_databases: dict[str, Database]) -> None:
    db = bundled_databases["store_1"]
    assert db.sqlite_path is not None
    con = sqlite3.connect(f"file:{db.sqlite_path}?mode=ro", uri=True)
    sql = "SELECT genre_id, COUNT(*) FROM tracks GROUP BY genre_id ORDER BY COUNT(*) DESC, genre_id LIMIT 5"
    expected = [list(r) for r in con.execute(sql).fetchall()]
    con.close()
    result = db.execute(sql)
    assert result.rows == expected
    assert result.columns == ["genre_id", "COUNT(*)"]


def test_bundled_connection_cannot_touch_files(bundled_databases: dict[str, Database], tmp_path: Path) -> None:
    assert_locked(bundled_databases["store_1"], tmp_path / "x.csv")
