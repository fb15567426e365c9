"""The official HoloBench hub format, from local exports in JSONL and Parquet."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from holobench.errors import SourceError
from holobench.records import Category, Difficulty
from holobench.sources import (
    Database,
    HubSource,
    open_source,
)
from holobench.verbalize import check_database

from .helpers import (
    GOOD_DDL,
    GOOD_ROWS,
    HUB,
    HUB_TABLES,
    _export,
    _fixture_records,
    _write_parquet,
    assert_locked,
    hub_records,
    one_line,
    write_sqlite,
)


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


def test_hub_repo_id_without_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message a user without the hub extra sees (``datasets`` made unimportable here, since
    the test environment has it)."""
    monkeypatch.setitem(sys.modules, "datasets", None)
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


def test_other_connections_cannot_touch_files(tmp_path: Path, hub_db: Database) -> None:
    assert_locked(hub_db, tmp_path / "hub.csv")
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "t.csv").write_text("a\n1\n", encoding="utf-8")
    files_db = open_source(f"files:{folder}").open("f")
    assert_locked(files_db, tmp_path / "files.csv")
    path = write_sqlite(tmp_path / "s.sqlite", GOOD_DDL, GOOD_ROWS)
    assert_locked(open_source(f"sqlite:{path}").open("s"), tmp_path / "sqlite.csv")
