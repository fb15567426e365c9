"""Answerable sampling: answer rows, near misses, FK closure, deliberate unanswerables, and every
earlier instance invariant (exact length, no duplicates, determinism, gold re-verifiable)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holobench.context import GenerationError, InstanceBuilder
from holobench.oracle import rows_equal
from holobench.records import Instance, Query, Result
from holobench.sampling import degenerate
from holobench.sources import BundledSource
from holobench.suite import generate_suite, load_suite
from holobench.tokenizers import get_tokenizer

from .test_context import recompute_gold_in_sqlite

TOKENIZER = get_tokenizer("o200k_base")


@pytest.fixture(scope="module")
def queries(bundled: BundledSource) -> dict[str, Query]:
    return {q.id: q for d in bundled.list_databases() for q in bundled.queries(d)}


def build(builders: dict[str, InstanceBuilder], query: Query, **kw: object) -> Instance:
    args: dict[str, object] = {"placement": "uniform", "amount": 1024, "sampling": "answerable"}
    args.update(kw)
    target = int(args.pop("target", 4096))  # type: ignore[call-overload]
    return builders[query.db_id].build(query, target, **args)  # type: ignore[arg-type]


def check_invariants(inst: Instance, builder: InstanceBuilder) -> None:
    assert inst.stats.tokens == TOKENIZER.count(inst.context) <= inst.config.target_tokens
    keys = [(x.db, x.table, x.row) for x in inst.lines]
    assert len(keys) == len(set(keys))  # no row twice
    assert len(inst.lines) == len(inst.context.split("\n"))
    relevant = [x for x in inst.lines if x.relevant]
    assert all(x.answer is not None for x in relevant) and all(x.answer is None for x in inst.lines if not x.relevant)
    assert inst.stats.answer_rows == sum(bool(x.answer) for x in relevant)
    assert rows_equal(recompute_gold_in_sqlite(builder.db, inst), inst.gold.rows)


QUERY_SHAPES = [
    "store_1-q016",  # three-table join, GROUP BY, ORDER BY ... LIMIT 5
    "nycflights-q034",  # join, LIKE on dates, ROUND
    "nycflights-q033",  # IN subquery over a foreign key
    "store_1-q019",  # NOT IN
    "baseball-q016",  # INTERSECT
    "nycflights-q021",  # EXCEPT
    "nycflights-q020",  # COUNT over a derived INTERSECT
    "store_1-q035",  # HAVING COUNT(*) > 20
    "baseball-q031",  # correlated subquery
    "baseball-q012",  # the example: top 5 stints of 2019
]


@pytest.mark.parametrize("query_id", QUERY_SHAPES)
def test_answerable_instances_have_a_real_answer(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query], query_id: str
) -> None:
    query = queries[query_id]
    for amount, target in ((2048, 4096), (4096, 8192)):
        inst = build(builders, query, amount=amount, target=target)
        assert inst.answerable is True and inst.config.sampling == "answerable"
        assert not degenerate(inst.gold), (query_id, inst.gold.rows)
        check_invariants(inst, builders[query.db_id])


def test_ranking_with_limit_gets_its_rows(builders: dict[str, InstanceBuilder], queries: dict[str, Query]) -> None:
    inst = build(builders, queries["baseball-q012"], amount=2048)
    assert len(inst.gold.rows) == 5 and any(row[-1] > 0 for row in inst.gold.rows)


def test_near_misses_share_the_table_and_miss_the_answer(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query]
) -> None:
    query = queries["nycflights-q034"]  # noon weather observations per airport
    builder = builders[query.db_id]
    inst = build(builders, query, amount=2048)
    answers = builder.provenance(query).answer_rows
    near = [x for x in inst.lines if x.relevant and x.answer is False]
    assert near and all(x.row not in answers.get(x.table, ()) for x in near)
    assert {x.table for x in near} <= set(builder.relevant_tables(query))
    noon = [x for x in inst.lines if x.relevant and x.answer and x.table == "weather"]
    texts = inst.context.split("\n")
    positions = {(x.table, x.row): i for i, x in enumerate(inst.lines)}
    assert noon and all("12:00" in texts[positions[(x.table, x.row)]] for x in noon)


def test_fk_closure_brings_the_parent_row(builders: dict[str, InstanceBuilder], queries: dict[str, Query]) -> None:
    query = queries["nycflights-q033"]  # flights whose plane was built after 2010
    db = builders[query.db_id].db
    inst = build(builders, query, amount=2048)
    planes = {x.row for x in inst.lines if x.relevant and x.table == "planes"}
    tail = db.schema("flights").column_names.index("tailnum")
    plane_tail = db.schema("planes").column_names.index("tailnum")
    tails = {db.rows("planes")[r][plane_tail] for r in planes}
    answer_flights = [x.row for x in inst.lines if x.relevant and x.answer and x.table == "flights"]
    assert answer_flights and all(db.rows("flights")[r][tail] in tails for r in answer_flights)


@pytest.mark.parametrize("query_id", ["nycflights-q034", "store_1-q016", "baseball-q003", "nycflights-q001"])
def test_unanswerable_instances_hold_no_answer_row(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query], query_id: str
) -> None:
    query = queries[query_id]
    inst = build(builders, query, amount=1024, answerable=False)
    assert inst.answerable is False and inst.stats.answer_rows == 0
    assert all(x.answer is False for x in inst.lines if x.relevant)
    assert degenerate(inst.gold)
    check_invariants(inst, builders[query.db_id])
    answerable = build(builders, query, amount=1024)
    assert answerable.id != inst.id


def test_a_query_every_row_answers_cannot_be_withheld(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query]
) -> None:
    count_all = Query(
        id="all",
        db_id="store_1",
        question="?",
        sql="SELECT COUNT(*) FROM genres",
        categories=("Aggregation",),
        difficulty="easy",
    )
    with pytest.raises(GenerationError, match="no unanswerable draw"):
        build(builders, count_all, answerable=False)


def test_a_having_threshold_beyond_the_budget_is_reported(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query]
) -> None:
    with pytest.raises(GenerationError, match="HAVING threshold"):
        build(builders, queries["nycflights-q022"], amount=512, target=1024)  # COUNT(*) > 500 flights


def test_relevant_rows_do_not_depend_on_length_or_placement(
    builders: dict[str, InstanceBuilder], queries: dict[str, Query]
) -> None:
    query = queries["store_1-q016"]
    seen = set()
    for target, placement in ((4096, "uniform"), (8192, "begin"), (6000, "bimodal")):
        inst = build(builders, query, amount=1024, target=target, placement=placement)
        seen.add(frozenset((x.table, x.row) for x in inst.lines if x.relevant))
    assert len(seen) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query_id=st.sampled_from(QUERY_SHAPES[:7]),
    amount=st.integers(min_value=600, max_value=3000),
    extra=st.integers(min_value=0, max_value=5000),
    seed=st.integers(min_value=0, max_value=50),
    positives=st.floats(min_value=0.1, max_value=1.0),
    placement=st.sampled_from(["begin", "end", "middle", "bimodal", "uniform", "random"]),
)
def test_property_answerable_instances_keep_every_invariant(
    builders: dict[str, InstanceBuilder],
    queries: dict[str, Query],
    query_id: str,
    amount: int,
    extra: int,
    seed: int,
    positives: float,
    placement: str,
) -> None:
    query = queries[query_id]
    try:
        inst = build(
            builders, query, amount=amount, target=amount + extra, seed=seed, positives=positives, placement=placement
        )
    except GenerationError as exc:
        assert "attempts" in str(exc) or "budget" in str(exc)
        return
    assert not degenerate(inst.gold)
    check_invariants(inst, builders[query.db_id])
    again = build(
        builders, query, amount=amount, target=amount + extra, seed=seed, positives=positives, placement=placement
    )
    assert again.model_dump_json() == inst.model_dump_json()


def test_degenerate_rule() -> None:
    assert degenerate(Result(columns=["a"], rows=[]))
    assert degenerate(Result(columns=["a"], rows=[[None]]))
    assert degenerate(Result(columns=["a"], rows=[[0]]))
    assert not degenerate(Result(columns=["a"], rows=[[0], [1]]))
    assert not degenerate(Result(columns=["a", "b"], rows=[["x", 0]]))


# --------------------------------------------------------------------------- suites


def _suite(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(body, encoding="utf-8")
    return path


SMALL = """
name: small
source: bundled
databases: all
queries:
  ids: [store_1-q016, store_1-q019, nycflights-q034, nycflights-q033, baseball-q012, baseball-q016]
lengths: [2k, 4k]
settings:
  - amount: 1k
  - density: 0.4
placements: [middle, bimodal, random]
seeds: [0]
"""


def test_suite_unanswerable_share_and_workers_agree(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, SMALL + "sampling: answerable\nunanswerable: 0.25\n"))
    one = generate_suite(suite, tmp_path / "one", workers=1)
    two = generate_suite(suite, tmp_path / "two", workers=2)
    assert two["sampling"] == one["sampling"]
    assert (tmp_path / "one" / "instances.jsonl").read_bytes() == (tmp_path / "two" / "instances.jsonl").read_bytes()
    sampling = one["sampling"]
    assert sampling["strategy"] == "answerable" and abs(sampling["unanswerable_share"] - 0.25) <= 0.05
    records = [json.loads(line) for line in (tmp_path / "one" / "instances.jsonl").open()]
    assert sum(r["answerable"] is False for r in records) == sampling["unanswerable_instances"]
    assert all(not degenerate(Result.model_validate(r["gold"])) for r in records if r["answerable"])
    assert {p["query_id"] for p in one["provenance"]} == {r["query_id"] for r in records}


# Generated by holobench before answerable sampling existed (same suite, uniform sampling):
UNIFORM_SHA256 = "1474dc4654fd153c72ceb65343a14150f58e7d1a2db43dfb869d4328b80d2091"
UNIFORM = """
name: uniform-regression
source: bundled
databases: all
queries:
  ids: [store_1-q001, store_1-q016, nycflights-q019, nycflights-q034, baseball-q012, baseball-q021]
fillers: auto
tokenizer: o200k_base
lengths: [1k, 3k]
settings:
  - amount: 512
  - density: 0.3
placements: [middle, bimodal, random]
seeds: [0, 1]
sampling: uniform
"""


def test_uniform_sampling_is_byte_for_byte_what_it_was(tmp_path: Path) -> None:
    manifest = generate_suite(load_suite(_suite(tmp_path, UNIFORM)), tmp_path / "u")
    data = (tmp_path / "u" / "instances.jsonl").read_bytes()
    assert hashlib.sha256(data).hexdigest() == UNIFORM_SHA256
    assert manifest["suite_hash"] == "d3a41ae2417a021a40900fae4f9f0975a9501843e456e1cad6970c74027a9a4e"
    assert b'"answerable"' not in data and manifest["sampling"] == {"strategy": "uniform"}


def test_unanswerable_needs_answerable_sampling(tmp_path: Path) -> None:
    from holobench.errors import HoloBenchError

    with pytest.raises(HoloBenchError, match="'unanswerable' needs 'sampling: answerable'"):
        load_suite(_suite(tmp_path, SMALL + "sampling: uniform\nunanswerable: 0.1\n"))


# --------------------------------------------------------------------------- unseen queries on Spider, ad hoc

SPIDER_QUERIES = [
    ("college_2", "SELECT name FROM instructor WHERE ID NOT IN (SELECT ID FROM teaches)"),
    (
        "college_2",
        "SELECT course_id FROM section WHERE semester = 'Fall' AND year = 2009 "
        "EXCEPT SELECT course_id FROM section WHERE semester = 'Spring' AND year = 2010",
    ),
    ("college_2", "SELECT T1.name FROM instructor AS T1 JOIN teaches AS T2 ON T1.ID = T2.ID WHERE T2.year = 2003"),
    (
        "college_2",
        "SELECT dept_name, AVG(salary) FROM instructor GROUP BY dept_name HAVING AVG(salary) > 80000 "
        "ORDER BY AVG(salary) DESC",
    ),
    ("wine_1", "SELECT Name FROM wine WHERE Score > 90 INTERSECT SELECT Name FROM wine WHERE Price < 50"),
    (
        "wine_1",
        "SELECT T2.Name, T2.Score FROM grapes AS T1 JOIN wine AS T2 ON T1.Grape = T2.Grape "
        "WHERE T1.Color = 'White' ORDER BY T2.Score DESC LIMIT 3",
    ),
    (
        "wine_1",
        "SELECT Grape, COUNT(*) FROM wine WHERE Grape IN (SELECT Grape FROM grapes WHERE Color = 'Red') GROUP BY Grape",
    ),
    ("flight_4", "SELECT name FROM airports WHERE country = 'Iceland' AND elevation > 100"),
    (
        "flight_4",
        "SELECT country, COUNT(*) FROM airlines WHERE active = 'Y' GROUP BY country ORDER BY COUNT(*) DESC LIMIT 5",
    ),
    ("store_1", "SELECT name FROM genres WHERE id NOT IN (SELECT genre_id FROM tracks WHERE milliseconds > 300000)"),
    (
        "store_1",
        "SELECT billing_country FROM invoices WHERE total > 15 UNION SELECT country FROM customers WHERE state = 'CA'",
    ),
]


@pytest.mark.parametrize(("db_id", "sql"), SPIDER_QUERIES)
def test_unseen_spider_queries_ad_hoc(tmp_path: Path, db_id: str, sql: str) -> None:
    from typer.testing import CliRunner

    from holobench.cli import app
    from tests.conftest import SPIDER

    if not (SPIDER / "database").is_dir():
        pytest.skip("../shared/spider is absent")
    common = ["generate", "--source", f"spider:{SPIDER}", "--db", db_id, "--sql", sql, "--question", "Which?"]
    common += ["--length", "4096", "--amount", "1536", "--category", "Comparison"]
    for extra, answerable in (([], True), (["--unanswerable"], False)):
        out = tmp_path / f"{answerable}.jsonl"
        result = CliRunner().invoke(app, [*common, *extra, "-o", str(out)])
        if not answerable and result.exit_code != 0:
            assert "no unanswerable draw" in str(result.exception) or "an empty answer" in str(result.exception)
            continue
        assert result.exit_code == 0, (result.output, result.exception)
        inst = Instance.model_validate_json(out.read_text())
        assert inst.answerable is answerable
        assert degenerate(inst.gold) is not answerable, (sql, inst.gold.rows)
