"""Folders of CSV or Parquet files, and DuckDB files."""

from __future__ import annotations

import random
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from holobench.errors import SourceError
from holobench.records import ForeignKey
from holobench.sources import (
    DuckDBFileSource,
    FilesSource,
    open_source,
)

from .helpers import (
    assert_locked,
    one_line,
)


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
