"""Position analysis: which lines carry each gold row (checked against plain leave-one-out), where
they sit, the recall tables, and the report's position section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from holobench.aggregate import Run
from holobench.carriers import PositionItem, gold_carriers, group_testable, removal_monotone, unmatched
from holobench.cli import app
from holobench.context import InstanceBuilder
from holobench.errors import HoloBenchError
from holobench.jsonl import read_instances
from holobench.lines import Line
from holobench.position import (
    FRAME_COLUMNS,
    InstanceCarriers,
    cache_file,
    compute_carriers,
    decile,
    manifest_instances,
    missed_lines,
    position_frame,
    read_carriers,
    recall_by_decile,
    recall_by_placement,
    relative_position,
)
from holobench.records import Category, Difficulty, Instance, Label, Query, ScoreRecord
from holobench.report import write_report
from holobench.scoring.score import score_match
from holobench.sql import parse
from holobench.tokenizers import get_tokenizer
from holobench.verify import query_of

from .scoring_helpers import write_run


def naive_carriers(item: PositionItem | Instance, builder: InstanceBuilder) -> list[set[int]]:
    """The definition, literally: one fresh gold per relevant line left out; equal rows pooled."""
    query = query_of(item)
    relevant = [i for i, x in enumerate(item.lines) if x.relevant]
    lines = {i: Line(item.db_id, item.lines[i].table, item.lines[i].row, "", 0, 0) for i in relevant}
    found: list[set[int]] = [set() for _ in item.gold.rows]
    for i in relevant:
        for r in unmatched(item.gold.rows, builder.gold(query, [lines[j] for j in relevant if j != i]).rows):
            found[r].add(i)
    for r, row in enumerate(item.gold.rows):
        copies = [k for k, other in enumerate(item.gold.rows) if other == row]
        found[r] = set().union(*(found[k] for k in copies))
    return found


def check_against_naive(item: PositionItem | Instance, builder: InstanceBuilder) -> list[list[int]]:
    carriers = gold_carriers(item, builder)
    relevant = {i for i, x in enumerate(item.lines) if x.relevant}
    assert len(carriers) == len(item.gold.rows)
    for r, (fast, naive) in enumerate(zip(carriers, naive_carriers(item, builder), strict=True)):
        assert fast and set(fast) <= relevant and fast == sorted(set(fast)), (item.query_id, r)
        if naive:  # where leave-one-out finds carriers, the fast search finds exactly those
            assert fast == sorted(naive), (item.query_id, item.sql, r, item.gold.rows[r])
    return carriers


@pytest.fixture(scope="module")
def smoke_items(smoke_file: Path) -> list[PositionItem]:
    return list(read_instances(smoke_file, None, PositionItem))


@pytest.fixture(scope="module")
def smoke_builders(bundled_dbs: dict[str, Any]) -> dict[str, InstanceBuilder]:
    return {db_id: InstanceBuilder(db, get_tokenizer()) for db_id, db in bundled_dbs.items()}


def test_every_smoke_instance_agrees_with_naive_leave_one_out(
    smoke_items: list[PositionItem], smoke_builders: dict[str, InstanceBuilder]
) -> None:
    searched = {removal_monotone(parse(item.sql)) for item in smoke_items}
    assert searched == {True, False}  # both searches are exercised
    for item in smoke_items:
        check_against_naive(item, smoke_builders[item.db_id])


def test_a_gold_the_engines_do_not_reproduce_is_refused(
    smoke_items: list[PositionItem], smoke_builders: dict[str, InstanceBuilder]
) -> None:
    item = next(x for x in smoke_items if x.gold.rows and not x.sql.startswith("SELECT COUNT(*)"))
    tampered = item.model_copy(update={"gold": item.gold.model_copy(update={"rows": [[123456789]]})})
    with pytest.raises(HoloBenchError, match=f"instance {item.id}: the engines here do not reproduce its gold"):
        gold_carriers(tampered, smoke_builders[item.db_id])


def test_a_near_miss_can_carry_a_row(builders: dict[str, InstanceBuilder], bundled: Any) -> None:
    # Airlines with no cancelled flight: a near miss on the full database (it has one), but its
    # cancelled flight is not in the context, so it answers here. Near misses are never skipped.
    query = next(q for q in bundled.queries("nycflights") if "NOT IN" in q.sql and "airlines" in q.sql)
    inst = builders["nycflights"].build(query, 1024, placement="middle", amount=512, sampling="answerable")
    carriers = check_against_naive(inst, builders["nycflights"])
    assert any(inst.lines[i].answer is False for lines in carriers for i in lines)


def adhoc(builders: dict[str, InstanceBuilder], db_id: str, sql: str, **kw: Any) -> Instance:
    query = Query(
        id="adhoc", db_id=db_id, question="?", sql=sql, categories=(Category.AGGREGATION,), difficulty=Difficulty.EASY
    )
    args: dict[str, Any] = {"placement": "uniform", "amount": 2048, "sampling": "answerable", **kw}
    return builders[db_id].build(query, int(args.pop("target", 4096)), **args)


def values(inst: Instance, builder: InstanceBuilder, i: int) -> dict[str, Any]:
    line = inst.lines[i]
    return dict(zip(builder.db.schema(line.table).column_names, builder.db.rows(line.table)[line.row], strict=True))


def relevant_lines(inst: Instance) -> list[int]:
    return [i for i, x in enumerate(inst.lines) if x.relevant]


def test_count_is_carried_by_every_counted_line(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["baseball"]
    inst = adhoc(builders, "baseball", "SELECT COUNT(*) FROM teams WHERE wins > 95")
    counted = [i for i in relevant_lines(inst) if values(inst, builder, i)["wins"] > 95]
    assert check_against_naive(inst, builder) == [counted] and len(counted) == inst.gold.rows[0][0]
    every = adhoc(builders, "baseball", "SELECT COUNT(*) FROM parks", sampling="uniform")
    assert gold_carriers(every, builder) == [relevant_lines(every)]  # no search at all


def test_max_is_carried_by_the_line_holding_it(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["baseball"]
    inst = adhoc(builders, "baseball", "SELECT MAX(attendance) FROM teams")
    top = [i for i in relevant_lines(inst) if values(inst, builder, i)["attendance"] == inst.gold.rows[0][0]]
    assert check_against_naive(inst, builder) == [top]


def test_group_counts_are_carried_by_their_groups(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["nycflights"]
    inst = adhoc(builders, "nycflights", "SELECT origin, COUNT(*) FROM flights GROUP BY origin", sampling="uniform")
    carriers = check_against_naive(inst, builder)
    for (origin, count), lines in zip(inst.gold.rows, carriers, strict=True):
        group = [i for i in relevant_lines(inst) if inst.lines[i].table == "flights"]
        assert lines == [i for i in group if values(inst, builder, i)["origin"] == origin] and len(lines) == count


def test_a_top_five_is_carried_by_its_five_lines(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["baseball"]
    sql = "SELECT player_id, team_id, home_runs FROM batting WHERE year = 2019 ORDER BY home_runs DESC LIMIT 5"
    inst = adhoc(builders, "baseball", sql, target=8192)
    carriers = check_against_naive(inst, builder)
    assert len(carriers) == 5 and all(len(lines) == 1 for lines in carriers)
    for row, (line,) in zip(inst.gold.rows, carriers, strict=True):
        assert [values(inst, builder, line)[c] for c in ("player_id", "team_id", "home_runs")] == row


def test_a_tied_min_is_carried_by_both_tied_lines(builders: dict[str, InstanceBuilder]) -> None:
    # Two teams share 2017's fewest wins: leave-one-out finds neither, the text fallback both.
    builder = builders["baseball"]
    sql = "SELECT MIN(wins) FROM teams WHERE year = 2017"
    inst = adhoc(builders, "baseball", sql, amount=4096, positives=1.0, target=8192)  # every 2017 team
    teams = {i: values(inst, builder, i) for i in relevant_lines(inst)}
    tied = [i for i, row in teams.items() if (row["year"], row["wins"]) == (2017, inst.gold.rows[0][0])]
    assert len(tied) == 2
    assert not naive_carriers(inst, builder)[0]
    assert gold_carriers(inst, builder) == [tied]
    light = PositionItem.model_validate_json(inst.model_dump_json())  # text from the sentences, not the context
    assert gold_carriers(light, builder) == [tied]


def test_an_answer_over_nothing_is_carried_by_every_line(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["baseball"]
    inst = adhoc(builders, "baseball", "SELECT COUNT(*) FROM teams WHERE wins > 95", answerable=False)
    assert inst.gold.rows == [[0]] and not naive_carriers(inst, builder)[0]
    assert gold_carriers(inst, builder) == [relevant_lines(inst)]  # not the lines that happen to say "0"


def test_a_sum_of_non_negative_terms_is_group_tested(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["baseball"]
    sql = "SELECT team_id, SUM(home_runs) FROM batting WHERE year = 2019 GROUP BY team_id"
    inst = adhoc(builders, "baseball", sql, sampling="uniform")
    assert group_testable(inst, builder, relevant_lines(inst)) and not removal_monotone(parse(sql))
    check_against_naive(inst, builder)
    signed = adhoc(builders, "baseball", "SELECT SUM(runs - runs_allowed) FROM teams WHERE year = 2019")
    assert not group_testable(signed, builder, relevant_lines(signed))
    check_against_naive(signed, builder)


def test_average_is_searched_line_by_line(builders: dict[str, InstanceBuilder]) -> None:
    inst = adhoc(builders, "baseball", "SELECT AVG(era) FROM teams WHERE year = 2020")
    assert not removal_monotone(parse(inst.sql))
    check_against_naive(inst, builders["baseball"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_subset_of_relevant_lines_agrees_with_naive(
    builders: dict[str, InstanceBuilder], data: st.DataObject
) -> None:
    """Group testing on random sub-instances: drop relevant lines at random, recompute the gold."""
    sql = data.draw(
        st.sampled_from(
            [
                "SELECT dest, COUNT(*) FROM flights GROUP BY dest ORDER BY COUNT(*) DESC LIMIT 5",
                "SELECT DISTINCT carrier FROM flights WHERE distance > 1000",
                "SELECT origin, MAX(dep_delay) FROM flights GROUP BY origin HAVING COUNT(*) > 2",
            ]
        )
    )
    builder = builders["nycflights"]
    inst = adhoc(builders, "nycflights", sql, sampling="uniform")
    keep = data.draw(st.sets(st.sampled_from(relevant_lines(inst)), min_size=1))
    lines = [x.model_copy(update={"relevant": x.relevant and i in keep}) for i, x in enumerate(inst.lines)]
    query = Query(
        id="adhoc", db_id="nycflights", question="?", sql=sql, categories=inst.categories, difficulty=Difficulty.EASY
    )
    kept = [Line("nycflights", x.table, x.row, "", 0, 0) for x in lines if x.relevant]
    sub = inst.model_copy(update={"lines": lines, "gold": builder.gold(query, kept)})
    check_against_naive(sub, builder)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.sampled_from(["a", "b"])), max_size=8), st.data())
def test_unmatched_is_a_multiset_difference(gold: list[tuple[int, str]], data: st.DataObject) -> None:
    rows = [list(r) for r in gold]
    shuffled = data.draw(st.permutations(rows))
    assert unmatched(rows, shuffled) == frozenset()
    assert unmatched(rows, [[v + 1e-12, s] for v, s in shuffled]) == frozenset()  # numbers within 1e-9
    if rows:
        k = data.draw(st.integers(0, len(rows) - 1))
        lost = unmatched(rows, shuffled[:k] + shuffled[k + 1 :])
        assert len(lost) == 1 and rows[next(iter(lost))] == shuffled[k]


@given(st.integers(1, 10_000), st.data())
def test_positions_and_deciles(n_lines: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, n_lines - 1))
    position = relative_position(index, n_lines)
    assert 0.0 <= position <= 1.0 and 0 <= decile(position) <= 9
    if index + 1 < n_lines:
        assert decile(relative_position(index + 1, n_lines)) >= decile(position)


def test_positions_at_the_edges() -> None:
    assert relative_position(0, 1000) == 0.0 and decile(relative_position(0, 1000)) == 0
    assert relative_position(999, 1000) == 1.0 and decile(relative_position(999, 1000)) == 9
    assert relative_position(0, 1) == 0.0 and decile(0.0999) == 0 and decile(0.1) == 1 and decile(0.9) == 9
    with pytest.raises(ValueError):
        relative_position(1000, 1000)
    with pytest.raises(ValueError):
        decile(1.01)


def test_missed_lines_are_those_of_rows_labelled_no() -> None:
    carriers = [[3, 7], [7, 9], [1], [20]]
    labels = [Label.NO, Label.EXACT, Label.NO]  # the fourth row was not judged
    assert missed_lines(carriers, labels) == [1, 3, 7]
    assert missed_lines(carriers, [Label.PARTIAL] * 4) == []


def record(iid: str, labels: list[Label], **kw: Any) -> ScoreRecord:
    fields: dict[str, Any] = {
        "id": iid,
        "query_id": f"q-{iid}",
        "db_id": "db",
        "categories": (Category.MAX_MIN,),
        "target_tokens": 1024,
        "setting": "amount",
        "level": 512,
        "placement": "middle",
        "backend": "openai",
        "model": "m",
        "prompt": "cot",
        "scorer": "match",
        "status": "scored",
        "gold_rows": len(labels),
        "labels": labels,
        "score": 0.0,
    }
    return ScoreRecord(**{**fields, **kw})


def test_recall_arithmetic_on_a_small_frame() -> None:
    # Row a0 (exact) sits on lines 0 and 10 of 11; row a1 (no) on line 0; b0 (partial) on line 5 of 6.
    found = {
        "a": InstanceCarriers(id="a", lines=11, carriers=[[0, 10], [0], [4]]),
        "b": InstanceCarriers(id="b", lines=6, carriers=[[5]]),
        "c": InstanceCarriers(id="c", lines=6, carriers=[[1]]),
        "d": InstanceCarriers(id="d", lines=6, carriers=[[1]]),
    }
    records = [
        record("a", [Label.EXACT, Label.NO], categories=(Category.MAX_MIN, Category.JOIN)),  # row 2 not judged
        record("b", [Label.PARTIAL], placement="uniform"),
        record("c", [Label.EXACT], status="skipped", score=None),  # unscored: left out
        record("d", [Label.NO], answerable=False),  # unanswerable by design: left out
    ]
    df = position_frame([Run("m", records)], found)
    assert list(df.columns) == FRAME_COLUMNS and set(df["id"]) == {"a", "b"}
    assert df[df["primary"]].groupby(["id", "row"])["weight"].sum().tolist() == [1.0, 1.0, 1.0]
    by_decile = recall_by_decile(df, n_boot=200).set_index(["category", "decile"])
    # Decile 0 holds half of a0 (credit 1) and all of a1 (credit 0): (0.5 * 1 + 1 * 0) / 1.5.
    assert by_decile.loc[("all", 0), "recall"] == pytest.approx(1 / 3)
    assert by_decile.loc[("all", 0), "rows"] == pytest.approx(1.5)
    assert by_decile.loc[("all", 9), "recall"] == pytest.approx((0.5 * 1 + 1 * 0.5) / 1.5)  # a0's half, b0
    assert by_decile.loc[("Join", 9), "recall"] == pytest.approx(1.0)  # a only
    assert set(by_decile.loc["all"].index) == {0, 9}
    by_placement = recall_by_placement(df, n_boot=200).set_index(["category", "placement"])
    assert by_placement.loc[("all", "middle"), "recall"] == pytest.approx(0.5)  # a0 exact, a1 no
    assert by_placement.loc[("all", "uniform"), "recall"] == pytest.approx(0.5)
    assert by_placement.loc[("all", "middle"), "rows"] == pytest.approx(2.0)
    for table in (by_decile, by_placement):
        assert ((table["ci_low"] <= table["recall"] + 1e-12) & (table["recall"] <= table["ci_high"] + 1e-12)).all()
    assert recall_by_decile(position_frame([], found)).empty


def test_compute_carriers_reads_a_file_and_names_a_source_it_cannot_open(smoke_file: Path, tmp_path: Path) -> None:
    ids = [item.id for item in read_instances(smoke_file, None, PositionItem)][:3]
    found = compute_carriers(smoke_file, ids)
    assert set(found) == set(ids) and all(all(lines for lines in rows) for rows in found.values())
    assert read_carriers(smoke_file.parent, ids[:1])[ids[0]].carriers == found[ids[0]]
    record = json.loads(smoke_file.read_text(encoding="utf-8").splitlines()[0])
    record["source"] = "spider:/nowhere/spider"
    broken = tmp_path / "instances.jsonl"
    broken.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match=r"instances\.jsonl: cannot open the instances' source 'spider:/nowhere"):
        compute_carriers(broken)


def test_carriers_found_are_kept(smoke_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = read_carriers(smoke_file)
    cache = cache_file(smoke_file)
    assert cache is not None and cache.is_file()

    def refuse(*_: object) -> None:
        raise AssertionError("searched again")

    monkeypatch.setattr("holobench.position.gold_carriers", refuse)
    assert read_carriers(smoke_file) == first
    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", "off")
    assert cache_file(smoke_file) is None


def test_the_manifest_names_the_instances(smoke_file: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path, smoke_file)
    (run / "scores" / "match").mkdir(parents=True)
    assert manifest_instances(run) == smoke_file
    assert manifest_instances(run / "scores" / "match") == smoke_file  # from a score folder
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    (run / "copy.jsonl").write_bytes(smoke_file.read_bytes())
    manifest["instances"] = "copy.jsonl"  # relative: found beside the run
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert manifest_instances(run) == run / "copy.jsonl"
    (run / "copy.jsonl").unlink()
    assert manifest_instances(run) is None


def test_the_report_writes_the_position_view(smoke_file: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path, smoke_file)
    score_match(smoke_file, run)
    summary = write_report([run], tmp_path / "report", n_boot=200)
    assert summary["position"].startswith("34 instances of")
    tables = tmp_path / "report" / "tables"
    by_decile = pd.read_csv(tables / "position_by_decile.csv")
    assert {"model", "category", "decile", "recall", "ci_low", "ci_high", "rows"} <= set(by_decile.columns)
    assert set(by_decile["decile"]) <= set(range(10)) and "all" in set(by_decile["category"])
    assert set(pd.read_csv(tables / "position_by_placement.csv")["placement"]) == {"middle", "uniform"}
    assert (tmp_path / "report" / "plots" / "recall_by_position.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Recall by position" in markdown and "![recall_by_position](plots/recall_by_position.png)" in markdown


def test_the_report_skips_the_position_view_without_instances(smoke_file: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path, smoke_file)
    score_match(smoke_file, run)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["instances"] = str(tmp_path / "gone.jsonl")
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    summary = write_report([run], tmp_path / "report", n_boot=200)
    assert summary["position"].startswith("skipped: no instances file known")
    assert not (tmp_path / "report" / "tables" / "position_by_decile.csv").exists()
    assert "Recall by position skipped" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    cli = CliRunner()
    given_file = cli.invoke(
        app, ["report", str(run), "-o", str(tmp_path / "r2"), "--resamples", "100", "--instances", str(smoke_file)]
    )
    assert given_file.exit_code == 0, given_file.output
    assert (tmp_path / "r2" / "tables" / "position_by_decile.csv").is_file()
    missing = cli.invoke(app, ["report", str(run), "-o", str(tmp_path / "r3"), "--instances", str(tmp_path / "no")])
    assert missing.exit_code != 0 and not (tmp_path / "r3").exists()
    off = cli.invoke(app, ["report", str(run), "-o", str(tmp_path / "r4"), "--resamples", "100", "--no-position"])
    assert off.exit_code == 0 and "Recall by position" not in (tmp_path / "r4" / "report.md").read_text("utf-8")


def test_carriers_on_a_spider_database(spider: Any) -> None:
    builder = InstanceBuilder(spider.open("wine_1"), get_tokenizer("o200k_base"))
    for sql in (
        "SELECT Grape, COUNT(*) FROM wine GROUP BY Grape ORDER BY COUNT(*) DESC LIMIT 3",
        "SELECT T2.Name, T1.Color FROM grapes AS T1 JOIN wine AS T2 ON T1.Grape = T2.Grape WHERE T2.Score > 93",
        "SELECT AVG(Price) FROM wine WHERE Year = 2007",
    ):
        query = Query(
            id="sp", db_id="wine_1", question="?", sql=sql, categories=(Category.JOIN,), difficulty=Difficulty.EASY
        )
        inst = builder.build(query, 2048, placement="random", density=0.5, sampling="answerable")
        check_against_naive(inst, builder)
