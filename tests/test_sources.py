"""Every database source, on real files: bundled data, real Spider folders, the official HoloBench
hub format (a local export in tests/fixtures/hub), plain CSV/Parquet/DuckDB/SQLite files, and the
type policy SQLite's dynamic typing needs."""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holobench.errors import HoloBenchError, SourceError
from holobench.records import Category, Difficulty, ForeignKey
from holobench.sources import (
    BundledSource,
    Database,
    DuckDBFileSource,
    FilesSource,
    HubSource,
    SpiderSource,
    SqliteFileSource,
    open_source,
)
from holobench.sources.coerce import coerce
from holobench.verbalize import check_database

ROOT = Path(__file__).resolve().parents[1]
SPIDER = ROOT.parent / "shared" / "spider"
HUB = ROOT / "tests" / "fixtures" / "hub"
BUNDLED_IDS = ["baseball", "nycflights", "store_1"]
SPIDER_IDS = ["college_2", "flight_4", "store_1", "wine_1"]
HUB_TABLES = ["dummy", "grapes", "wine"]


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bundled_source() -> BundledSource:
    source = open_source("bundled")
    assert isinstance(source, BundledSource)
    return source


@pytest.fixture(scope="module")
def bundled_databases(bundled_source: BundledSource) -> dict[str, Database]:
    return {db_id: bundled_source.open(db_id) for db_id in BUNDLED_IDS}


@pytest.fixture(scope="module")
def spider_source() -> SpiderSource:
    if not (SPIDER / "database").is_dir():
        pytest.skip(f"{SPIDER} is absent: the real Spider databases are not available here")
    source = open_source(f"spider:{SPIDER}")
    assert isinstance(source, SpiderSource)
    return source


@pytest.fixture(scope="module")
def spider_databases(spider_source: SpiderSource) -> dict[str, Database]:
    return {}


def spider_db(spider_source: SpiderSource, cache: dict[str, Database], db_id: str) -> Database:
    if db_id not in cache:
        cache[db_id] = spider_source.open(db_id)
    return cache[db_id]


@pytest.fixture(scope="module")
def hub_source() -> HubSource:
    source = open_source(f"hub:{HUB}")
    assert isinstance(source, HubSource)
    return source


@pytest.fixture(scope="module")
def hub_db(hub_source: HubSource) -> Database:
    return hub_source.open("wine_mini")


# =========================================================================== bundled


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


# =========================================================================== spider (real files)


def test_spider_lists_the_four_databases(spider_source: SpiderSource) -> None:
    assert spider_source.list_databases() == SPIDER_IDS
    assert spider_source.describe() == f"spider:{SPIDER}"


@pytest.mark.parametrize(
    ("db_id", "counts"),
    [
        ("wine_1", {"grapes": 20, "appellations": 57, "wine": 500}),
        ("flight_4", {"airports": 7184, "airlines": 6162, "routes": 67240}),
        ("store_1", {"artists": 275, "albums": 347, "tracks": 3503, "playlist_tracks": 8715, "invoices": 412}),
        ("college_2", {"classroom": 30, "department": 20, "student": 2000, "takes": 30000}),
    ],
)
def test_spider_row_counts(
    spider_source: SpiderSource, spider_databases: dict[str, Database], db_id: str, counts: dict[str, int]
) -> None:
    db = spider_db(spider_source, spider_databases, db_id)
    assert db.origin == f"spider:{SPIDER}"
    assert db.sqlite_path == SPIDER / "database" / db_id / f"{db_id}.sqlite"
    for table, n in counts.items():
        assert db.row_count(table) == n
        assert db.schema(table).row_count == n


def test_spider_rows_in_rowid_order(spider_source: SpiderSource, spider_databases: dict[str, Database]) -> None:
    db = spider_db(spider_source, spider_databases, "wine_1")
    assert db.sqlite_path is not None
    for schema in db.schemas:
        raw = sqlite_rows(db.sqlite_path, schema.name)
        types = [c.type for c in schema.columns]
        assert db.rows(schema.name) == [tuple(coerce(v, t) for v, t in zip(r, types, strict=True)) for r in raw]


def test_spider_tolerates_sqlite_sequence_listed_in_tables_json(
    spider_source: SpiderSource, spider_databases: dict[str, Database]
) -> None:
    listed = next(e for e in json.loads((SPIDER / "tables.json").read_text()) if e["db_id"] == "store_1")
    assert "sqlite_sequence" in listed["table_names_original"]  # the real quirk this test is about
    db = spider_db(spider_source, spider_databases, "store_1")
    assert "sqlite_sequence" not in db.tables
    assert len(db.tables) == 11
    assert any("sqlite_sequence" in note for note in db.notes), db.notes


def test_spider_wine_1_keys_and_empty_cases(spider_source: SpiderSource, spider_databases: dict[str, Database]) -> None:
    db = spider_db(spider_source, spider_databases, "wine_1")
    wine = db.schema("wine")
    assert wine.primary_key == ()
    assert set(wine.foreign_keys) == {
        ForeignKey(column="Grape", ref_table="grapes", ref_column="Grape"),
        ForeignKey(column="Appelation", ref_table="appellations", ref_column="Appelation"),
    }
    assert db.schema("grapes").primary_key == ("ID",)
    assert db.schema("appellations").primary_key == ("No",)
    cases = db.schema("wine").column_names.index("Cases")
    assert db.sql_schema()["wine"]["Cases"] == "BIGINT"
    assert db.sqlite_path is not None
    con = sqlite3.connect(f"file:{db.sqlite_path}?mode=ro", uri=True)
    empty = con.execute("SELECT count(*) FROM wine WHERE Cases IS NULL OR Cases = ''").fetchone()[0]
    con.close()
    assert empty > 0
    assert sum(r[cases] is None for r in db.rows("wine")) == empty


def test_spider_keys_in_the_file_win_over_tables_json(
    spider_source: SpiderSource, spider_databases: dict[str, Database]
) -> None:
    db = spider_db(spider_source, spider_databases, "college_2")
    # tables.json lists only 'building' for classroom; the file declares the composite key
    assert db.schema("classroom").primary_key == ("building", "room_number")
    assert ForeignKey(column="ID", ref_table="student", ref_column="ID") in db.schema("takes").foreign_keys


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


def test_spider_keys_come_from_tables_json_when_the_file_lacks_them(tmp_path: Path) -> None:
    if not (SPIDER / "database").is_dir():
        pytest.skip(f"{SPIDER} is absent")
    entry = next(e for e in json.loads((SPIDER / "tables.json").read_text()) if e["db_id"] == "college_2")
    root = tmp_path / "spider"
    _copy_without_keys(SPIDER / "database/college_2/college_2.sqlite", root / "database/college_2/college_2.sqlite")
    (root / "tables.json").write_text(json.dumps([entry]), encoding="utf-8")
    stripped = sqlite3.connect(root / "database/college_2/college_2.sqlite")
    assert not stripped.execute('PRAGMA foreign_key_list("takes")').fetchall()
    assert all(r[5] == 0 for r in stripped.execute('PRAGMA table_info("classroom")'))
    stripped.close()

    db = open_source(f"spider:{root}").open("college_2")

    names, cols = entry["table_names_original"], entry["column_names_original"]
    expected_pk: dict[str, list[str]] = {}
    for pk in entry["primary_keys"]:
        for i in pk if isinstance(pk, list) else [pk]:
            expected_pk.setdefault(names[cols[i][0]], []).append(cols[i][1])
    expected_fk: dict[str, set[ForeignKey]] = {}
    for s, d in entry["foreign_keys"]:
        fk = ForeignKey(column=cols[s][1], ref_table=names[cols[d][0]], ref_column=cols[d][1])
        expected_fk.setdefault(names[cols[s][0]], set()).add(fk)
    for table in names:
        schema = db.schema(table)
        assert list(schema.primary_key) == expected_pk.get(table, []), table
        assert set(schema.foreign_keys) == expected_fk.get(table, set()), table
    assert db.schema("classroom").primary_key == ("building",)
    assert set(db.schema("advisor").foreign_keys) == {
        ForeignKey(column="s_ID", ref_table="student", ref_column="ID"),
        ForeignKey(column="i_ID", ref_table="instructor", ref_column="ID"),
    }
    assert db.row_count("takes") == 30000


def test_spider_uses_the_generic_verbalizer_without_templates(
    spider_source: SpiderSource, spider_databases: dict[str, Database]
) -> None:
    db = spider_db(spider_source, spider_databases, "wine_1")
    for table in db.tables:
        assert db.verbalizer(table).name == "generic"
    first = db.row_dicts("grapes").__next__()
    sentence = db.verbalize("grapes", 0)
    assert sentence.startswith("Grape record:")
    for value in first.values():
        assert str(value) in sentence
    assert check_database(db).ok


def test_spider_templates_option(tmp_path: Path) -> None:
    if not (SPIDER / "database").is_dir():
        pytest.skip(f"{SPIDER} is absent")
    (tmp_path / "wine_1").mkdir()
    (tmp_path / "wine_1" / "grapes.j2").write_text("{{ Grape }} (grape {{ ID }}) is {{ Color }}.", encoding="utf-8")
    db = SpiderSource(SPIDER, templates=tmp_path).open("wine_1")
    assert db.verbalizer("grapes").name == "template:grapes.j2"
    assert db.verbalizer("wine").name == "generic"
    row = next(db.row_dicts("grapes"))
    assert db.verbalize("grapes", 0) == f"{row['Grape']} (grape {row['ID']}) is {row['Color']}."


def test_spider_bird_layout(tmp_path: Path) -> None:
    """BIRD names its folders dev_databases/ and dev_tables.json."""
    ddl = "CREATE TABLE a (id INTEGER, name TEXT); CREATE TABLE b (id INTEGER, a_id INTEGER);"
    entry = spider_entry(
        "mini", {"a": ["id", "name"], "b": ["id", "a_id"]}, [("a", "id")], [(("b", "a_id"), ("a", "id"))]
    )
    root = make_spider(
        tmp_path,
        {"mini": (ddl, {"a": [(1, "x")], "b": [(1, 1)]})},
        [entry],
        db_dir="dev_databases",
        schema_file="dev_tables.json",
    )
    source = open_source(f"spider:{root}")
    assert source.list_databases() == ["mini"]
    db = source.open("mini")
    assert db.schema("a").primary_key == ("id",)
    assert db.schema("b").foreign_keys == (ForeignKey(column="a_id", ref_table="a", ref_column="id"),)


# --------------------------------------------------------------------------- spider: bad inputs


GOOD_DDL = "CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);"
GOOD_ROWS: dict[str, Sequence[Sequence[Any]]] = {"singer": [(1, "Ann"), (2, "Bo")]}


def test_spider_missing_database_id(tmp_path: Path) -> None:
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)})
    source = open_source(f"spider:{root}")
    with pytest.raises(SourceError) as info:
        source.open("orchestra")
    message = one_line(str(info.value))
    assert str(root) in message
    assert "'orchestra'" in message
    assert "concert" in message  # what is available


def test_spider_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{tmp_path / 'absent'}")
    assert str(tmp_path / "absent") in one_line(str(info.value))


def test_spider_corrupt_sqlite_file(tmp_path: Path) -> None:
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)})
    bad = root / "database" / "broken" / "broken.sqlite"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(random.Random(20240501).randbytes(8192))
    source = open_source(f"spider:{root}")
    assert source.list_databases() == ["broken", "concert"]
    with pytest.raises(SourceError) as info:
        source.open("broken")
    message = one_line(str(info.value))
    assert str(bad) in message
    assert "not a readable SQLite database" in message
    assert source.open("concert").row_count("singer") == 2  # the good one still opens


def test_spider_sqlite_file_corrupt_in_the_middle(tmp_path: Path) -> None:
    rows = {"t": [(i, f"name number {i:05d} " * 4) for i in range(3000)]}
    path = write_sqlite(tmp_path / "database" / "big" / "big.sqlite", "CREATE TABLE t (id INTEGER, v TEXT);", rows)
    data = bytearray(path.read_bytes())
    assert len(data) > 64 * 1024
    data[len(data) // 2 : len(data) // 2 + 16384] = bytes(16384)
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{tmp_path}").open("big")
    assert str(path) in one_line(str(info.value))


def test_spider_table_in_tables_json_missing_from_file(tmp_path: Path) -> None:
    entry = spider_entry("concert", {"singer": ["id", "name"], "stadium": ["id", "capacity"]}, [("singer", "id")])
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)}, [entry])
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{root}").open("concert")
    message = one_line(str(info.value))
    assert "tables.json" in message
    assert "'stadium'" in message
    assert str(root / "database" / "concert" / "concert.sqlite") in message


def test_spider_sqlite_internal_table_in_tables_json_is_a_note(tmp_path: Path) -> None:
    entry = spider_entry("concert", {"singer": ["id", "name"], "sqlite_sequence": ["name", "seq"]}, [("singer", "id")])
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)}, [entry])
    db = open_source(f"spider:{root}").open("concert")
    assert db.tables == ["singer"]
    assert len(db.notes) == 1 and "sqlite_sequence" in db.notes[0]


@pytest.mark.parametrize(
    "text",
    [
        '[{"db_id": "concert", "table_names_original": ["singer"]',  # truncated JSON
        "not json at all",
        '{"db_id": "concert"}',  # an object, not a list
        '[{"table_names_original": ["singer"]}]',  # entries without db_id
        "[1, 2, 3]",
    ],
    ids=["truncated", "not-json", "object", "no-db-id", "numbers"],
)
def test_spider_malformed_tables_json(tmp_path: Path, text: str) -> None:
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)}, text)
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{root}").open("concert")
    message = one_line(str(info.value))
    assert str(root / "tables.json") in message


def test_spider_tables_json_entry_missing_fields(tmp_path: Path) -> None:
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)}, [{"db_id": "concert"}])
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{root}").open("concert")
    assert "tables.json" in one_line(str(info.value))


def test_spider_tables_json_key_index_out_of_range(tmp_path: Path) -> None:
    entry = spider_entry("concert", {"singer": ["id", "name"]})
    entry["primary_keys"] = [17]
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)}, [entry])
    with pytest.raises(SourceError) as info:
        open_source(f"spider:{root}").open("concert")
    assert "tables.json" in one_line(str(info.value))


# =========================================================================== type policy (coerce.py)


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


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


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


# =========================================================================== hub (official HoloBench format)


def test_hub_lists_databases_not_the_queries_config(hub_source: HubSource) -> None:
    assert sorted(p.name for p in HUB.iterdir() if p.is_dir()) == ["queries", "wine_mini"]
    assert hub_source.list_databases() == ["wine_mini"]
    assert hub_source.describe() == f"hub:{HUB}"


def test_hub_fixture_is_in_the_official_format() -> None:
    """Guards the fixture itself: exactly two fields, table_row a JSON object string."""
    for table in HUB_TABLES:
        for rec in hub_records("wine_mini", table):
            assert set(rec) == {"table_row", "verbalized_text"}
            assert isinstance(rec["table_row"], str)
            row = json.loads(rec["table_row"])
            assert isinstance(row, dict)
            for value in row.values():
                if value is not None:
                    assert str(value) in rec["verbalized_text"]
    fields = {
        "db_id", "query", "question", "difficulty", "query_type", "Aggregation", "Max/Min", "Join", "Comparison",
        "Ranking", "SQL_COMPONENTS_1", "SQL_COMPONENTS_2", "Other Complexity Factors",
    }  # fmt: skip
    for rec in hub_records("queries", "wine_mini"):
        assert set(rec) == fields
        assert isinstance(rec["query_type"], str)


def test_hub_tables_and_inferred_types(hub_db: Database) -> None:
    assert hub_db.tables == HUB_TABLES
    assert hub_db.origin == f"hub:{HUB}"
    schema = hub_db.sql_schema()
    assert schema["grapes"] == {"ID": "BIGINT", "Grape": "VARCHAR", "Color": "VARCHAR"}
    assert schema["wine"] == {
        "No": "BIGINT",
        "Grape": "VARCHAR",
        "Winery": "VARCHAR",
        "Appelation": "VARCHAR",
        "State": "VARCHAR",
        "Name": "VARCHAR",
        "Year": "BIGINT",
        "Price": "BIGINT",
        "Score": "BIGINT",
        "Cases": "BIGINT",
        "Drink": "VARCHAR",
    }
    assert schema["dummy"] == {"id": "BIGINT", "label": "VARCHAR", "weight": "DOUBLE"}
    assert {t: hub_db.row_count(t) for t in HUB_TABLES} == {"dummy": 3, "grapes": 5, "wine": 8}
    assert hub_db.sqlite_path is None


@pytest.mark.parametrize("table", HUB_TABLES)
def test_hub_row_values_and_order(hub_db: Database, table: str) -> None:
    expected = [tuple(json.loads(r["table_row"]).values()) for r in hub_records("wine_mini", table)]
    assert hub_db.rows(table) == expected


def test_hub_null_cell(hub_db: Database) -> None:
    nulls = [r for r in hub_db.row_dicts("wine") if r["Cases"] is None]
    assert [r["No"] for r in nulls] == [3]


@pytest.mark.parametrize("table", HUB_TABLES)
def test_hub_stored_sentences(hub_db: Database, table: str) -> None:
    assert hub_db.verbalizer(table).name == "stored"
    assert hub_db.sentences(table) == [r["verbalized_text"] for r in hub_records("wine_mini", table)]


def test_hub_fixture_sentences_are_faithful(hub_db: Database) -> None:
    report = check_database(hub_db)
    assert report.ok, [str(m) for m in report.missing]
    assert report.total_rows == 16
    assert set(report.verbalizers.values()) == {"stored"}


def test_hub_queries(hub_source: HubSource, hub_db: Database) -> None:
    queries = hub_source.queries("wine_mini")
    records = hub_records("queries", "wine_mini")
    assert [q.id for q in queries] == [f"wine_mini-hub{i:03d}" for i in range(4)]
    assert [q.sql for q in queries] == [r["query"] for r in records]
    assert [q.question for q in queries] == [r["question"] for r in records]
    assert all(q.db_id == "wine_mini" and q.dialect == "sqlite" for q in queries)
    assert [q.categories for q in queries] == [
        (Category.AGGREGATION, Category.COMPARISON),
        (Category.RANKING,),
        (Category.AGGREGATION, Category.JOIN),
        (Category.MAX_MIN,),
    ]
    assert [r["difficulty"] for r in records] == ["easy", "medium", "hard", "extra"]
    assert [q.difficulty for q in queries] == [Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD, Difficulty.HARD]
    # and they run on the fixture
    assert hub_db.execute(queries[0].sql).rows == [[4]]
    assert hub_db.execute(queries[1].sql).rows == [
        ["Hudson Vineyard", "Kistler"],
        ["Estate Vineyard", "Failla"],
        ["Giana", "Chiarello Family"],
    ]
    by_color = dict(map(tuple, hub_db.execute(queries[2].sql).rows))  # type: ignore[arg-type]
    assert by_color == {"Red": pytest.approx(38.6), "White": pytest.approx(157 / 3)}
    assert hub_db.execute(queries[3].sql).rows == [["Hudson Vineyard"]]
    assert hub_source.queries("other_db") == []


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


def test_hub_query_type_is_used_when_no_boolean_is_set(tmp_path: Path) -> None:
    records = _fixture_records()
    for rec in records["queries"]["wine_mini"]:
        for flag in ("Aggregation", "Max/Min", "Join", "Comparison", "Ranking"):
            rec[flag] = False
    source = open_source(f"hub:{_export(tmp_path, records)}")
    assert [q.categories for q in source.queries("wine_mini")] == [
        (Category.AGGREGATION, Category.COMPARISON),
        (Category.RANKING,),
        (Category.AGGREGATION, Category.JOIN),
        (Category.MAX_MIN,),
    ]


def test_hub_bad_query_record(tmp_path: Path) -> None:
    records = _fixture_records()
    records["queries"]["wine_mini"][2]["difficulty"] = "impossible"
    source = open_source(f"hub:{_export(tmp_path, records)}")
    with pytest.raises(SourceError) as info:
        source.queries("wine_mini")
    message = one_line(str(info.value))
    assert "record 2" in message and "wine_mini" in message


def _write_parquet(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_parquet(path, index=False)


@pytest.mark.parametrize("layout", ["sharded", "folder", "two-shards"])
def test_hub_parquet_export_loads_identically(
    tmp_path: Path, hub_source: HubSource, hub_db: Database, layout: str
) -> None:
    for config, splits in _fixture_records().items():
        for split, recs in splits.items():
            if layout == "sharded":
                _write_parquet(recs, tmp_path / config / f"{split}-00000-of-00001.parquet")
            elif layout == "folder":
                _write_parquet(recs, tmp_path / config / split / "0000.parquet")
            else:
                half = len(recs) // 2
                _write_parquet(recs[:half], tmp_path / config / f"{split}-00000-of-00002.parquet")
                _write_parquet(recs[half:], tmp_path / config / f"{split}-00001-of-00002.parquet")
    assert not list(tmp_path.rglob("*.jsonl"))
    source = open_source(f"hub:{tmp_path}")
    assert source.list_databases() == ["wine_mini"]
    db = source.open("wine_mini")
    assert db.schemas == hub_db.schemas
    for table in HUB_TABLES:
        assert db.rows(table) == hub_db.rows(table)
        assert db.sentences(table) == hub_db.sentences(table)
        assert db.verbalizer(table).name == "stored"
    assert source.queries("wine_mini") == hub_source.queries("wine_mini")


def test_hub_record_missing_verbalized_text(tmp_path: Path) -> None:
    records = _fixture_records()
    del records["wine_mini"]["grapes"][2]["verbalized_text"]
    source = open_source(f"hub:{_export(tmp_path, records)}")
    with pytest.raises(SourceError) as info:
        source.open("wine_mini")
    message = one_line(str(info.value))
    assert "wine_mini/grapes record 2" in message
    assert "verbalized_text" in message


@pytest.mark.parametrize(
    ("table_row", "needle"),
    [("{not json", "record 1"), ("[1, 2]", "not a JSON object"), (None, "record 1")],
    ids=["bad-json", "array", "null"],
)
def test_hub_record_with_bad_table_row(tmp_path: Path, table_row: Any, needle: str) -> None:
    records = _fixture_records()
    records["wine_mini"]["wine"][1]["table_row"] = table_row
    with pytest.raises(SourceError) as info:
        open_source(f"hub:{_export(tmp_path, records)}").open("wine_mini")
    message = one_line(str(info.value))
    assert "wine_mini/wine record 1" in message
    assert needle in message


def test_hub_unreadable_jsonl(tmp_path: Path) -> None:
    bad = tmp_path / "cfg" / "t.jsonl"
    bad.parent.mkdir()
    bad.write_text('{"table_row": "{}", \n', encoding="utf-8")
    with pytest.raises(SourceError) as info:
        open_source(f"hub:{tmp_path}").open("cfg")
    assert str(bad) in one_line(str(info.value))


def test_hub_unknown_database(hub_source: HubSource) -> None:
    with pytest.raises(SourceError) as info:
        hub_source.open("queries")
    message = one_line(str(info.value))
    assert "'queries'" in message and "wine_mini" in message


def test_hub_record_with_null_verbalized_text(tmp_path: Path) -> None:
    records = _fixture_records()
    records["wine_mini"]["grapes"][0]["verbalized_text"] = None
    with pytest.raises(SourceError, match="record 0"):
        open_source(f"hub:{_export(tmp_path, records)}").open("wine_mini")


def test_hub_empty_split(tmp_path: Path) -> None:
    records = _fixture_records()
    records["wine_mini"]["dummy"] = []
    source = open_source(f"hub:{_export(tmp_path, records)}")
    db = source.open("wine_mini")  # a split with no rows holds no table (no columns to read): it is left out
    assert "dummy" not in db.tables
    assert db.row_count("wine") == 8


def test_hub_repo_id_without_datasets() -> None:
    if importlib.util.find_spec("datasets") is not None:
        pytest.skip("datasets is installed; this checks the message shown without it")
    with pytest.raises(SourceError) as info:
        open_source("hub:nobody/no-such-holobench-repo")
    message = one_line(str(info.value))
    assert "holobench[hub]" in message
    assert "nobody/no-such-holobench-repo" in message


def test_hub_old_revision_name_scoccer_1_loads_as_soccer_1(tmp_path: Path) -> None:
    """An older revision of the official dataset names the soccer config and its queries split
    ``scoccer_1``; either spelling loads as soccer_1."""
    root = tmp_path / "export"
    shutil.copytree(HUB / "wine_mini", root / "scoccer_1")
    (root / "queries").mkdir()
    shutil.copy(HUB / "queries" / "wine_mini.jsonl", root / "queries" / "scoccer_1.jsonl")
    source = HubSource(root)
    assert source.list_databases() == ["soccer_1"]
    db = source.open("soccer_1")
    assert db.db_id == "soccer_1" and sorted(db.tables) == HUB_TABLES
    assert source.queries("soccer_1") and source.revision() is None  # a local export pins itself


def test_hub_revision_is_passed_to_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hub:owner/name@rev`` reads that revision; without ``@`` the hub's default branch."""
    import sys
    import types

    calls: list[tuple[str, object]] = []
    fake = types.ModuleType("datasets")
    fake.get_dataset_config_names = lambda repo, revision=None: calls.append((repo, revision)) or ["queries"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    assert HubSource("org/bench@0123abc").list_databases() == []
    assert HubSource("org/bench").list_databases() == []
    assert calls == [("org/bench", "0123abc"), ("org/bench", None)]


# =========================================================================== files, duckdb, sqlite


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,name\n1,pear\n2,fig,extra\n3,kiwi\n", "line 3 has 3 field(s), the header 2"),
        (b"id,name\n1,pear\n2\n", "line 3 has 1 field(s), the header 2"),
        (b"id,name\n1,caf\xe9\n", "not UTF-8"),
        (b"", "empty file"),
    ],
)
def test_files_source_loses_no_row_of_a_bad_csv(tmp_path: Path, content: bytes, message: str) -> None:
    """Ragged, non-UTF-8 or empty CSVs are an error naming the file and line, never a silent loss."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "items.csv").write_bytes(content)
    with pytest.raises(SourceError, match=re.escape(message)) as info:
        open_source(f"files:{folder}").open("shop")
    assert "items.csv" in str(info.value) and "\n" not in str(info.value)


def test_files_source_all_text_header_is_a_header(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "stores.csv").write_text("code,city\nZ9,Oslo\n\nA1,Lima\n", encoding="utf-8")
    db = open_source(f"files:{folder}").open("shop")
    assert db.schema("stores").column_names == ["code", "city"] and db.rows("stores") == [
        ("Z9", "Oslo"),
        ("A1", "Lima"),
    ]


def test_files_source_csv_folder(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "items.csv").write_text("id,name,price\n3,pear,1.5\n1,apple,0.25\n2,fig,\n", encoding="utf-8")
    (folder / "stores.csv").write_text("code,city\nZ9,Oslo\nA1,Lima\n", encoding="utf-8")
    (folder / "README.txt").write_text("not a table", encoding="utf-8")
    source = open_source(f"files:{folder}")
    assert isinstance(source, FilesSource)
    assert source.list_databases() == ["shop"]
    db = source.open("shop")
    assert db.tables == ["items", "stores"]
    assert db.sql_schema() == {
        "items": {"id": "BIGINT", "name": "VARCHAR", "price": "DOUBLE"},
        "stores": {"code": "VARCHAR", "city": "VARCHAR"},
    }
    assert db.rows("items") == [(3, "pear", 1.5), (1, "apple", 0.25), (2, "fig", None)]  # file order
    assert db.rows("stores") == [("Z9", "Oslo"), ("A1", "Lima")]
    assert db.schema("items").row_count == 3
    assert db.verbalizer("items").name == "generic"
    assert db.verbalize("items", 2) == "Item record: id is 2, name is fig, and price is not recorded."
    assert db.execute("SELECT name FROM items WHERE price > 1").rows == [["pear"]]
    with pytest.raises(SourceError):
        source.open("other")


def test_files_source_parquet_folder_with_templates(tmp_path: Path) -> None:
    folder = tmp_path / "orders_db"
    folder.mkdir()
    pd.DataFrame({"id": [9, 7, 8], "qty": [1, 2, 3], "note": ["x", None, "z"]}).to_parquet(folder / "orders.parquet")
    (folder / "templates").mkdir()
    (folder / "templates" / "orders.j2").write_text("Order {{ id }} is for {{ qty }}.", encoding="utf-8")
    db = open_source(f"files:{folder}").open("orders_db")
    assert db.tables == ["orders"]
    assert db.rows("orders") == [(9, 1, "x"), (7, 2, None), (8, 3, "z")]
    assert db.sql_schema()["orders"] == {"id": "BIGINT", "qty": "BIGINT", "note": "VARCHAR"}
    assert db.verbalizer("orders").name == "template:orders.j2"
    assert db.sentences("orders") == ["Order 9 is for 1.", "Order 7 is for 2.", "Order 8 is for 3."]


def test_files_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        open_source(f"files:{tmp_path / 'absent'}")
    assert str(tmp_path / "absent") in one_line(str(info.value))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert open_source(f"files:{empty}").list_databases() == []
    with pytest.raises(SourceError, match=r"no \.csv or \.parquet"):
        open_source(f"files:{empty}").open("empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "t.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(SourceError) as info:
        open_source(f"files:{broken}").open("broken")
    assert str(broken / "t.parquet") in one_line(str(info.value))


def test_duckdb_file_source_reads_keys(tmp_path: Path) -> None:
    path = tmp_path / "shopdb.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR)")
    con.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total DOUBLE)"
    )
    con.execute("INSERT INTO customers VALUES (2, 'Bo'), (1, 'Al')")
    con.execute("INSERT INTO orders VALUES (10, 2, 5.5), (11, 1, 7.25), (12, 2, NULL)")
    con.close()
    source = open_source(f"duckdb:{path}")
    assert isinstance(source, DuckDBFileSource)
    assert source.list_databases() == ["shopdb"]
    db = source.open("shopdb")
    assert db.tables == ["customers", "orders"]
    assert db.schema("customers").primary_key == ("id",)
    assert db.schema("orders").primary_key == ("id",)
    assert db.schema("orders").foreign_keys == (
        ForeignKey(column="customer_id", ref_table="customers", ref_column="id"),
    )
    assert db.rows("customers") == [(2, "Bo"), (1, "Al")]
    assert db.schema("orders").row_count == 3
    result = db.execute(
        "SELECT T1.name, SUM(T2.total) FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id "
        "GROUP BY T1.name ORDER BY T1.name"
    )
    assert result.rows == [["Al", 7.25], ["Bo", 5.5]]
    assert_locked(db, tmp_path / "probe.csv")
    with pytest.raises(SourceError):
        source.open("other")


def test_duckdb_file_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        open_source(f"duckdb:{tmp_path / 'absent.duckdb'}").open("absent")
    assert str(tmp_path / "absent.duckdb") in one_line(str(info.value))
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(SourceError) as info:
        open_source(f"duckdb:{junk}").open("junk")
    assert str(junk) in one_line(str(info.value))


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


def test_unknown_source_kind_lists_the_kinds() -> None:
    with pytest.raises(SourceError) as info:
        open_source("mysql:localhost/db")
    message = one_line(str(info.value))
    assert "'mysql'" in message
    for kind in ("bundled", "spider", "hub", "sqlite", "duckdb", "files"):
        assert kind in message


@pytest.mark.parametrize("spec", ["spider", "files:", "sqlite"])
def test_source_kind_without_location(spec: str) -> None:
    with pytest.raises(SourceError, match="needs a location"):
        open_source(spec)


def test_bundled_source_with_another_root(tmp_path: Path) -> None:
    write_sqlite(tmp_path / "tiny" / "tiny.sqlite", GOOD_DDL, GOOD_ROWS)
    (tmp_path / "stray").mkdir()
    write_sqlite(tmp_path / "stray" / "other_name.sqlite", GOOD_DDL, GOOD_ROWS)  # stem != folder: not a database
    source = open_source(f"bundled:{tmp_path}")
    assert source.list_databases() == ["tiny"]
    db = source.open("tiny")
    assert db.verbalizer("singer").name == "generic"  # no templates folder
    assert db.rows("singer") == [(1, "Ann"), (2, "Bo")]


# =========================================================================== Database.execute and lock-down


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


def test_other_connections_cannot_touch_files(tmp_path: Path, hub_db: Database) -> None:
    assert_locked(hub_db, tmp_path / "hub.csv")
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "t.csv").write_text("a\n1\n", encoding="utf-8")
    files_db = open_source(f"files:{folder}").open("f")
    assert_locked(files_db, tmp_path / "files.csv")
    path = write_sqlite(tmp_path / "s.sqlite", GOOD_DDL, GOOD_ROWS)
    assert_locked(open_source(f"sqlite:{path}").open("s"), tmp_path / "sqlite.csv")


def test_execute_refuses_writes(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "s.sqlite", GOOD_DDL, GOOD_ROWS)
    db = open_source(f"sqlite:{path}").open("s")
    with pytest.raises(HoloBenchError):
        db.execute("DELETE FROM singer")
    assert db.row_count("singer") == 2
    assert db.connection.execute("SELECT count(*) FROM singer").fetchone() == (2,)


def test_spider_copy_is_not_modified(tmp_path: Path) -> None:
    """Opening a source never writes next to the data (read-only use of someone else's files)."""
    root = make_spider(tmp_path, {"concert": (GOOD_DDL, GOOD_ROWS)})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    snapshot = (root / "database/concert/concert.sqlite").read_bytes()
    db = open_source(f"spider:{root}").open("concert")
    db.sentences("singer")
    db.close()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert (root / "database/concert/concert.sqlite").read_bytes() == snapshot
    shutil.rmtree(root)
