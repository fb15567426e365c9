"""The bundled query set: structure, coverage, category labels, and SQLite/DuckDB agreement."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from holobench.errors import QueryError
from holobench.oracle import compare_engines, rows_equal, run_sqlite
from holobench.queries import load_query_file, validate_query
from holobench.records import Category, Difficulty, EngineDifference, Query
from holobench.sources import BundledSource, Database
from holobench.sql import json_value, parse, suggest_categories, with_tiebreak

from .conftest import BUNDLED_IDS


@pytest.fixture(scope="module")
def all_queries(bundled: BundledSource) -> list[Query]:
    return [q for db_id in bundled.list_databases() for q in bundled.queries(db_id)]


def test_every_bundled_database_has_a_query_file(bundled: BundledSource) -> None:
    assert tuple(bundled.list_databases()) == BUNDLED_IDS
    for db_id in BUNDLED_IDS:
        assert load_query_file(bundled.query_file(db_id)).db_id == db_id


def test_query_set_size_and_coverage(all_queries: list[Query]) -> None:
    assert len(all_queries) >= 120
    per_category = Counter(c for q in all_queries for c in q.categories)
    assert all(per_category[c] >= 15 for c in Category if c is not Category.SELECTION), per_category
    harder = sum(q.difficulty in (Difficulty.MEDIUM, Difficulty.HARD) for q in all_queries)
    assert harder * 3 >= len(all_queries)
    exercised = {e for q in all_queries for e in q.exercises}
    assert exercised == set(EngineDifference)
    assert len({q.id for q in all_queries}) == len(all_queries)


def test_query_set_covers_sql_features(all_queries: list[Query]) -> None:
    sql = [q.sql.upper() for q in all_queries]
    for feature in ("HAVING", "DISTINCT", "LIMIT", "IS NULL", "IS NOT NULL", "JOIN", "INTERSECT", "EXCEPT"):
        assert any(feature in s for s in sql), feature
    assert any(s.count("SELECT") > 1 for s in sql), "nested queries"
    assert any(s.count("JOIN") >= 2 for s in sql), "multi-table joins"


def test_declared_categories_match_the_suggestion(all_queries: list[Query]) -> None:
    wrong = [
        (q.id, sorted(q.categories), sorted(suggest_categories(parse(q.sql))))
        for q in all_queries
        if set(q.categories) != suggest_categories(parse(q.sql))
    ]
    assert not wrong


def test_questions_of_ordered_queries_say_the_order(all_queries: list[Query]) -> None:
    """A question whose answer is a ranked list must say how it is ranked."""
    words = (
        *("first", "order", "rank", "top", "highest", "lowest", "most", "least", "sorted", "alphabetical"),
        *("longest", "largest", "smallest", "shortest", "earliest", "latest", "oldest", "newest", "fewest"),
        *("ascending", "descending", "chronological"),
    )
    for q in all_queries:
        if Category.RANKING in q.categories:
            assert any(w in q.question.lower() for w in words), q.id


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_duckdb_agrees_with_sqlite_on_every_bundled_query(bundled_dbs: dict[str, Database], db_id: str) -> None:
    db = bundled_dbs[db_id]
    bundled = BundledSource()
    failures = []
    for q in bundled.queries(db_id):
        sqlite_result, duck_result = compare_engines(db, q.sql)
        if not rows_equal(sqlite_result.rows, duck_result.rows) or sqlite_result.columns != duck_result.columns:
            failures.append((q.id, sqlite_result.rows[:3], duck_result.rows[:3]))
        report = validate_query(db, q)
        assert report.ok, (q.id, report.error)
        assert report.rows == len(sqlite_result.rows)
    assert not failures


@pytest.mark.skipif(sqlite3.sqlite_version_info >= (3, 43, 0), reason="SQLite 3.43 rounds the exact double")
def test_native_sqlite_before_3_43_agrees_on_every_bundled_round_query(bundled_dbs: dict[str, Database]) -> None:
    """The reference overrides SQLite's round(); before 3.43 the built-in gives the same answers."""
    checked = 0
    for db_id, db in bundled_dbs.items():
        assert db.sqlite_path is not None
        for q in BundledSource().queries(db_id):
            if "ROUND(" in q.sql.upper():
                native = run_sqlite(db.sqlite_path, q.sql, native_round=True)
                assert rows_equal(native.rows, run_sqlite(db.sqlite_path, q.sql).rows), q.id
                checked += 1
    assert checked >= 5


def test_each_engine_difference_is_really_exercised(bundled_dbs: dict[str, Database]) -> None:
    """For each difference, some query gives a different answer (or an error) on raw DuckDB."""
    bundled = BundledSource()
    shown: set[EngineDifference] = set()
    for db_id, db in bundled_dbs.items():
        for q in bundled.queries(db_id):
            if not q.exercises:
                continue
            tree = parse(q.sql)
            expected = compare_engines(db, q.sql)[0].rows
            try:
                raw = db.connection.execute(with_tiebreak(tree).sql(dialect="sqlite")).fetchall()
                differs = not rows_equal(expected, [[json_value(v) for v in r] for r in raw])
            except duckdb.Error:  # raw DuckDB refusing the query is a difference; anything else is a bug
                differs = True
            if differs:
                shown.update(q.exercises)
    assert shown == set(EngineDifference)


# --------------------------------------------------------------------------- bad query files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "store_1.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
db_id: store_1
queries:
  - id: q1
    question: How many tracks are there?
    sql: SELECT COUNT(*) FROM tracks
    categories: [Aggregation]
    difficulty: easy
"""


def test_good_file_loads(tmp_path: Path) -> None:
    qf = load_query_file(_write(tmp_path, GOOD))
    assert [q.id for q in qf.queries] == ["q1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db_id: store_1\nqueries: [\n", "malformed YAML"),
        ("- just a list\n", "expected a mapping"),
        (GOOD.replace("    difficulty: easy\n", ""), "q1: field 'difficulty'"),
        (GOOD.replace("easy", "trivial"), "q1: field 'difficulty'"),
        (GOOD.replace("[Aggregation]", "[Counting]"), "q1: field 'categories"),
        (GOOD.replace("[Aggregation]", "[]"), "q1: field 'categories'"),
        (GOOD.replace("SELECT COUNT(*) FROM tracks", "DELETE FROM tracks"), "q1: only"),
        (GOOD.replace("SELECT COUNT(*) FROM tracks", "SELECT COUNT(* FROM tracks"), "q1: SQL does not parse"),
        (GOOD + GOOD.split("queries:\n")[1], "q1: id used twice"),
        (GOOD.replace("difficulty: easy", "difficulty: easy\n    colour: red"), "q1: field 'colour'"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(QueryError) as info:
        load_query_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="cannot read"):
        load_query_file(tmp_path / "nope.yaml")


def test_validation_reports_unknown_columns_and_wrong_labels(bundled_dbs: dict[str, Database], tmp_path: Path) -> None:
    db = bundled_dbs["store_1"]
    bad_column = Query(
        id="x",
        db_id="store_1",
        question="?",
        sql="SELECT colour FROM tracks",
        categories=("Ranking",),
        difficulty="easy",
    )
    report = validate_query(db, bad_column)
    assert not report.ok and report.error
    mislabelled = Query(
        id="y",
        db_id="store_1",
        question="?",
        sql="SELECT COUNT(*) FROM tracks",
        categories=("Join",),
        difficulty="easy",
    )
    report = validate_query(db, mislabelled)
    assert report.error is None and not report.categories_agree and report.rows == 1
