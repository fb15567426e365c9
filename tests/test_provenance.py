"""Row provenance: which rows carry a query's answer, on each query shape, checked against SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holobench.provenance import compute_provenance
from holobench.sources import Database
from holobench.sources.sqlite import load_sqlite

DDL = """
CREATE TABLE team (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE player (id INTEGER PRIMARY KEY, name TEXT, team_id INTEGER REFERENCES team(id), goals INTEGER,
                     country TEXT);
CREATE TABLE coach (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
INSERT INTO team VALUES (1, 'Reds', 'Oslo'), (2, 'Blues', 'Bergen'), (3, 'Greens', 'Oslo'), (4, 'Empty', 'Rome');
INSERT INTO player VALUES
 (1, 'Ann', 1, 10, 'NO'), (2, 'Bo', 1, 3, 'SE'), (3, 'Cy', 2, 7, 'NO'), (4, 'Di', 2, 0, 'DK'),
 (5, 'Ed', 3, 12, 'NO'), (6, 'Fa', 3, 1, 'SE'), (7, 'Gu', NULL, 5, 'NO');
INSERT INTO coach VALUES (1, 'Kim', 'Oslo'), (2, 'Lee', 'Paris');
"""


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path = tmp_path_factory.mktemp("prov") / "league.sqlite"
    con = sqlite3.connect(path)
    con.executescript(DDL)
    con.close()
    return load_sqlite(path, "league", origin="test")


def rows_of(sql: str, league: Database) -> dict[str, set[int]]:
    return {t: set(rows) for t, rows in compute_provenance(league, sql).answer_rows.items()}


def test_filter_is_exact(league: Database) -> None:
    prov = compute_provenance(league, "SELECT name FROM player WHERE goals > 5 ORDER BY goals DESC LIMIT 2")
    assert prov.method == "exact" and prov.limit == 2
    assert rows_of("SELECT name FROM player WHERE goals > 5", league) == {"player": {0, 2, 4}}
    assert len(prov.groups) == 3 and all(len(g) == 1 for g in prov.groups)  # each witness its own group


def test_join_witnesses_keep_pairs_together(league: Database) -> None:
    prov = compute_provenance(
        league, "SELECT T.name, P.name FROM team AS T JOIN player AS P ON P.team_id = T.id WHERE P.country = 'SE'"
    )
    assert prov.method == "exact"
    witnesses = sorted(w for g in prov.groups for w in g)
    assert witnesses == [(("team", 0), ("player", 1)), (("team", 2), ("player", 5))]


def test_group_by_having_keeps_surviving_groups(league: Database) -> None:
    prov = compute_provenance(
        league,
        "SELECT team_id, SUM(goals) FROM player WHERE team_id IS NOT NULL GROUP BY team_id HAVING SUM(goals) > 8",
    )
    assert prov.method == "exact" and prov.having and prov.aggregates
    # teams 1 (13 goals) and 3 (13 goals) survive; team 2 (7 goals) does not
    assert sorted(sorted(r for w in g for _, r in w) for g in prov.groups) == [[0, 1], [4, 5]]


def test_aggregate_without_group_by_is_one_group(league: Database) -> None:
    prov = compute_provenance(league, "SELECT AVG(goals) FROM player WHERE country = 'NO'")
    assert len(prov.groups) == 1 and len(prov.groups[0]) == 4


def test_in_subquery_brings_the_row_that_lets_it_pass(league: Database) -> None:
    prov = compute_provenance(league, "SELECT name FROM team WHERE id IN (SELECT team_id FROM player WHERE goals > 9)")
    assert prov.method == "approximate" and "IN subqueries" in prov.note
    witnesses = sorted(w for g in prov.groups for w in g)
    assert witnesses == [(("team", 0), ("player", 0)), (("team", 2), ("player", 4))]


def test_not_in_keeps_outer_witnesses_and_inner_table_as_near_misses(league: Database) -> None:
    prov = compute_provenance(
        league, "SELECT name FROM team WHERE id NOT IN (SELECT team_id FROM player WHERE goals > 9)"
    )
    assert prov.method == "approximate"
    assert rows_of("SELECT name FROM team WHERE id NOT IN (SELECT team_id FROM player WHERE goals > 9)", league) == {
        "team": {1, 3}
    }
    assert prov.traced == {"team", "player"}
    near = prov.near_misses(league, ["team", "player"])
    assert near["team"] == [0, 2] and len(near["player"]) == 7


def test_set_operations_group_branch_witnesses_by_value(league: Database) -> None:
    prov = compute_provenance(league, "SELECT city FROM team INTERSECT SELECT city FROM coach")
    assert prov.method == "approximate" and prov.having  # both sides of a value must be present
    assert [sorted(g) for g in prov.groups] == [[(("coach", 0),), (("team", 0),), (("team", 2),)]]
    prov = compute_provenance(league, "SELECT city FROM team EXCEPT SELECT city FROM coach")
    assert sorted(w for g in prov.groups for w in g) == [(("team", 1),), (("team", 3),)]


def test_correlated_and_derived_queries_do_not_fail(league: Database) -> None:
    correlated = compute_provenance(
        league, "SELECT name FROM player AS p WHERE goals > (SELECT AVG(goals) FROM player WHERE team_id = p.team_id)"
    )
    assert correlated.groups and correlated.method == "approximate"
    derived = compute_provenance(league, "SELECT COUNT(*) FROM (SELECT city FROM team UNION SELECT city FROM coach)")
    assert "derived table" in derived.note and derived.groups


def test_no_answer_on_the_full_database(league: Database) -> None:
    prov = compute_provenance(league, "SELECT name FROM player WHERE goals > 100")
    assert prov.method == "none" and not prov.groups and prov.traced == {"player"}


def test_a_column_named_rowid_is_untraceable(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE t ("rowid" INTEGER, v INTEGER)')
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1, 5), (2, 6)])
    con.commit()
    con.close()
    prov = compute_provenance(load_sqlite(path, "r", origin="test"), "SELECT v FROM t WHERE v > 5")
    assert prov.method == "none" and "rowid" in prov.note and not prov.traced


def test_bundled_queries_are_traced(bundled_dbs: dict[str, Database], bundled: object) -> None:
    from holobench.sources import BundledSource

    src = BundledSource()
    methods = {}
    for db_id, db in bundled_dbs.items():
        for q in src.queries(db_id):
            prov = compute_provenance(db, q.sql)
            methods[q.id] = prov.method
            assert prov.groups, q.id  # every bundled query has an answer on its full database
    assert sum(m == "exact" for m in methods.values()) >= 100


# --------------------------------------------------------------------------- exactness, as a property


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["a", "b", "c", None]), st.integers(0, 3)), min_size=1, max_size=20
    ),
    threshold=st.integers(0, 9),
    label=st.sampled_from(["a", "b", "c"]),
)
def test_property_single_block_provenance_is_the_set_sqlite_filters(
    tmp_path: Path, rows: list[tuple[int, str | None, int]], threshold: int, label: str
) -> None:
    path = tmp_path / "p.sqlite"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE r (x INTEGER, s TEXT, k INTEGER)")
    con.execute("CREATE TABLE k (id INTEGER, name TEXT)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?)", rows)
    con.executemany("INSERT INTO k VALUES (?, ?)", [(i, f"k{i}") for i in range(0, 3)])
    con.commit()
    sql = f"SELECT r.x, k.name FROM r JOIN k ON r.k = k.id WHERE r.x >= {threshold} AND r.s <> '{label}'"
    expected = {
        (("r", i), ("k", j))
        for i, (x, s, kk) in enumerate(rows)
        for j in range(3)
        if kk == j and x >= threshold and s is not None and s != label
    }
    con.close()
    db = load_sqlite(path, "p", origin="test")
    prov = compute_provenance(db, sql)
    assert {w for g in prov.groups for w in g} == expected
    assert prov.method == ("exact" if expected else "none")
    db.close()
