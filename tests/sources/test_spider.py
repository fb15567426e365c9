"""Spider and BIRD folders: real files from ../shared/spider, and broken ones built here."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from holobench.errors import SourceError
from holobench.records import ForeignKey
from holobench.sources import (
    Database,
    SpiderSource,
    open_source,
)
from holobench.sources.coerce import coerce
from holobench.verbalize import check_database

from .helpers import (
    GOOD_DDL,
    GOOD_ROWS,
    SPIDER,
    SPIDER_IDS,
    _copy_without_keys,
    make_spider,
    one_line,
    spider_db,
    spider_entry,
    sqlite_rows,
    write_sqlite,
)


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
