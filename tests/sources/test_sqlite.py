"""SQLite files: column types as SQLite stores them, natural row order, and round trips."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holobench.errors import HoloBenchError, SourceError
from holobench.records import ForeignKey
from holobench.sources import (
    Database,
    SqliteFileSource,
    open_source,
)

from .helpers import (
    GOOD_DDL,
    GOOD_ROWS,
    TEXT,
    one_line,
    write_sqlite,
)


def open_one_table(tmp_path: Path, ddl: str, rows: Sequence[Sequence[Any]], table: str = "t") -> Database:
    path = write_sqlite(tmp_path / "typed.sqlite", ddl, {table: rows})
    return open_source(f"sqlite:{path}").open("typed")


def column_type(db: Database, table: str, column: str) -> str:
    return db.sql_schema()[table][column]


def test_integer_column_with_empty_and_numeric_text(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (n INTEGER);", [("",), ("42",), (7,), (None,), (" 5 ",), (3.0,)])
    assert column_type(db, "t", "n") == "BIGINT"
    assert [r[0] for r in db.rows("t")] == [None, 42, 7, None, 5, 3]
    assert db.notes == []
    assert db.execute("SELECT SUM(n) FROM t").rows == [[57]]


def test_integer_column_with_text_falls_back_to_varchar_with_a_note(tmp_path: Path) -> None:
    db = open_one_table(
        tmp_path, "CREATE TABLE wine (cases INTEGER, name TEXT);", [(12, "a"), ("abc", "b"), (2.5, "c")], "wine"
    )
    assert column_type(db, "wine", "cases") == "VARCHAR"
    assert column_type(db, "wine", "name") == "VARCHAR"
    # every value kept, in SQLite's own text form
    assert [r[0] for r in db.rows("wine")] == ["12", "abc", "2.5"]
    assert len(db.notes) == 1
    note = db.notes[0]
    assert "wine.cases" in note and "INTEGER" in note and "'abc'" in note and "VARCHAR" in note


def test_date_and_timestamp_columns(tmp_path: Path) -> None:
    import datetime as dt

    db = open_one_table(
        tmp_path,
        "CREATE TABLE t (d DATE, ts TIMESTAMP, dt DATETIME);",
        [
            ("2020-01-02", "2020-01-02 03:04:05", "2021-06-30T12:00:00"),
            ("1999-12-31", None, "2021-06-30"),
            ("", "2020-01-02", None),
        ],
    )
    assert column_type(db, "t", "d") == "DATE"
    assert column_type(db, "t", "ts") == "TIMESTAMP"
    assert column_type(db, "t", "dt") == "TIMESTAMP"
    assert db.rows("t") == [
        (dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4, 5), dt.datetime(2021, 6, 30, 12)),
        (dt.date(1999, 12, 31), None, dt.datetime(2021, 6, 30)),
        (None, dt.datetime(2020, 1, 2), None),
    ]


def test_date_column_with_an_impossible_date_falls_back(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (d DATE);", [("2020-01-02",), ("2020-02-30",)])
    assert column_type(db, "t", "d") == "VARCHAR"
    assert [r[0] for r in db.rows("t")] == ["2020-01-02", "2020-02-30"]
    assert any("t.d" in n for n in db.notes)


@pytest.mark.parametrize(
    ("values", "expected_type", "expected"),
    [
        ([1, 2, None, 3], "BIGINT", [1, 2, None, 3]),
        (["1", 2, ""], "BIGINT", [1, 2, None]),
        ([1, 2.5], "DOUBLE", [1.0, 2.5]),
        (["1.5", 2], "DOUBLE", [1.5, 2.0]),
        ([1, "two"], "VARCHAR", ["1", "two"]),
    ],
)
def test_untyped_and_numeric_columns_infer_their_type(
    tmp_path: Path, values: list[Any], expected_type: str, expected: list[Any]
) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (x, y NUMERIC);", [(v, v) for v in values])
    for column in ("x", "y"):
        assert column_type(db, "t", column) == expected_type
    assert db.rows("t") == [(e, e) for e in expected]
    assert db.notes == []
    assert [c.declared_type for c in db.schema("t").columns] == ["", "NUMERIC"]


def test_boolean_and_real_columns(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (b BOOLEAN, r REAL);", [(1, 1), ("false", "2.5"), (None, "")])
    assert column_type(db, "t", "b") == "BOOLEAN"
    assert column_type(db, "t", "r") == "DOUBLE"
    assert db.rows("t") == [(True, 1.0), (False, 2.5), (None, None)]


def test_rows_follow_rowid_order(tmp_path: Path) -> None:
    """Natural order is SQLite's rowid order: neither insertion order nor primary-key order."""
    path = write_sqlite(
        tmp_path / "order.sqlite",
        "CREATE TABLE named (name TEXT PRIMARY KEY, v INTEGER);"
        "CREATE TABLE numbered (id INTEGER PRIMARY KEY, v TEXT);"
        "CREATE TABLE placed (v TEXT);",
        {"named": [("c", 1), ("a", 2), ("b", 3)], "numbered": [(30, "x"), (10, "y"), (20, "z")]},
    )
    con = sqlite3.connect(path)
    # explicit rowids, inserted out of order
    con.executemany("INSERT INTO placed (rowid, v) VALUES (?, ?)", [(3, "third"), (1, "first"), (2, "second")])
    con.commit()
    con.close()
    db = open_source(f"sqlite:{path}").open("order")
    assert db.rows("named") == [("c", 1), ("a", 2), ("b", 3)]  # not sorted by the text key
    assert db.rows("numbered") == [(10, "y"), (20, "z"), (30, "x")]  # INTEGER PRIMARY KEY is the rowid
    assert db.rows("placed") == [("first",), ("second",), ("third",)]
    assert db.sentences("placed") == [
        "Placed record: v is first.",
        "Placed record: v is second.",
        "Placed record: v is third.",
    ]
    assert db.schema("named").primary_key == ("name",)


def test_without_rowid_table_loads(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;", [("b", 1), ("a", 2)])
    assert sorted(db.rows("t")) == [("a", 2), ("b", 1)]
    assert db.schema("t").primary_key == ("k",)


def test_empty_table_keeps_its_columns(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (a INTEGER, b TEXT);", [])
    assert db.rows("t") == []
    assert db.sql_schema() == {"t": {"a": "BIGINT", "b": "VARCHAR"}}
    assert db.sentences("t") == []


def test_column_named_rowid_keeps_natural_order(tmp_path: Path) -> None:
    db = open_one_table(tmp_path, "CREATE TABLE t (rowid INTEGER, v TEXT);", [(3, "a"), (1, "b"), (2, "c")])
    assert db.rows("t") == [(3, "a"), (1, "b"), (2, "c")]


INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), INT64), max_size=40))
def test_property_integer_column_round_trips_in_order(values: list[int | None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_sqlite(Path(tmp) / "p.sqlite", "CREATE TABLE t (n INTEGER);", {"t": [(v,) for v in values]})
        db = open_source(f"sqlite:{path}").open("p")
        try:
            assert column_type(db, "t", "n") == "BIGINT"
            assert [r[0] for r in db.rows("t")] == values
            assert db.notes == []
        finally:
            db.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), TEXT), max_size=30))
def test_property_text_column_round_trips_in_order(values: list[str | None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_sqlite(Path(tmp) / "p.sqlite", "CREATE TABLE t (s TEXT);", {"t": [(v,) for v in values]})
        db = open_source(f"sqlite:{path}").open("p")
        try:
            assert column_type(db, "t", "s") == "VARCHAR"
            assert [r[0] for r in db.rows("t")] == values
        finally:
            db.close()


def test_sqlite_file_source(tmp_path: Path) -> None:
    path = write_sqlite(
        tmp_path / "music.sqlite",
        "CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artist(id), title TEXT);",
        {"artist": [(1, "Ann"), (2, "Bo")], "album": [(1, 2, "Blue"), (2, 1, "Red")]},
    )
    source = open_source(f"sqlite:{path}")
    assert isinstance(source, SqliteFileSource)
    assert source.list_databases() == ["music"]
    db = source.open("music")
    assert db.sqlite_path == path
    assert db.origin == f"sqlite:{path}"
    assert db.tables == ["artist", "album"]
    assert db.schema("album").foreign_keys == (ForeignKey(column="artist_id", ref_table="artist", ref_column="id"),)
    assert db.execute("SELECT title FROM album WHERE artist_id = 2").rows == [["Blue"]]
    with pytest.raises(SourceError) as info:
        source.open("other")
    assert "'other'" in one_line(str(info.value))
    with pytest.raises(SourceError) as info:
        open_source(f"sqlite:{tmp_path / 'absent.sqlite'}").open("absent")
    assert str(tmp_path / "absent.sqlite") in one_line(str(info.value))


def test_execute_refuses_writes(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "s.sqlite", GOOD_DDL, GOOD_ROWS)
    db = open_source(f"sqlite:{path}").open("s")
    with pytest.raises(HoloBenchError):
        db.execute("DELETE FROM singer")
    assert db.row_count("singer") == 2
    assert db.connection.execute("SELECT count(*) FROM singer").fetchone() == (2,)
