"""Answer accuracy and abstention accuracy: unanswerable-by-design instances, the no-answer
floor, and the suite audit with its trivial baselines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from holobench.backends import BackendOptions
from holobench.cli import app
from holobench.journal import Journal
from holobench.records import Label, Result
from holobench.runner import RunConfig, Runner
from holobench.scoring import score_match
from holobench.scoring.audit import AuditItem, audit_file, audit_items
from holobench.scoring.match import DEFAULT_REL_TOL, match
from holobench.scoring.run import read_scores
from holobench.scoring.score import abstention_labels
from holobench.suite import generate_suite, load_suite

SUITE = """
name: answerability
source: bundled
databases: all
queries:
  ids: [store_1-q016, store_1-q019, nycflights-q034, nycflights-q001, baseball-q003, baseball-q012]
lengths: [2k]
settings:
  - amount: 1k
  - density: 0.5
placements: [middle, uniform, bimodal, random]
seeds: [0]
sampling: answerable
unanswerable: 0.25
"""


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("answerability")
    (root / "suite.yaml").write_text(SUITE, encoding="utf-8")
    generate_suite(load_suite(root / "suite.yaml"), root / "suite")
    return root / "suite"


@pytest.mark.parametrize(
    ("gold", "response", "label"),
    [
        ([], "Final answer: No answer", Label.EXACT),
        ([], "Final answer: Rock", Label.NO),
        ([[0]], "Final answer: 0", Label.EXACT),  # a count over nothing is 0
        ([[0]], "Final answer: There is no such flight.", Label.EXACT),  # or no answer
        ([[0]], "Final answer: 3", Label.NO),
        ([[None]], "Final answer: None", Label.EXACT),
        ([[None]], "Final answer: 4.2", Label.NO),
    ],
)
def test_abstention_labels(gold: list[list[object]], response: str, label: Label) -> None:
    result = match(gold, response)
    assert abstention_labels(result, response, "cot", DEFAULT_REL_TOL) == [label]


def _run(tmp: Path, instances: Path, backend: str) -> Path:
    out = tmp / backend
    cfg = RunConfig(backend=backend, options=BackendOptions(), cache_dir=None)
    asyncio.run(Runner(instances, out, cfg).run())
    return out


def test_no_answer_scores_only_the_unanswerable_share(suite_dir: Path, tmp_path: Path) -> None:
    instances = suite_dir / "instances.jsonl"
    manifest = json.loads((suite_dir / "manifest.json").read_text())
    summary = score_match(instances, _run(tmp_path, instances, "no-answer"))
    withheld = manifest["sampling"]["unanswerable_instances"]
    assert withheld > 0 and summary["unanswerable"] == withheld
    assert summary["answer_accuracy"] == 0.0 and summary["abstention_accuracy"] == 1.0
    assert summary["mean_score"] == pytest.approx(withheld / summary["scored"], abs=1e-6)


def test_an_oracle_scores_both_parts(suite_dir: Path, tmp_path: Path) -> None:
    """Answers written from the gold itself score 1 on answerable instances and, with "No
    answer" on the unanswerable ones, 1 on abstention: the split is not a constant."""
    instances = suite_dir / "instances.jsonl"
    run = _run(tmp_path, instances, "no-answer")
    journal = Journal(run / "predictions.jsonl")
    predictions = journal.load(repair=False)
    for line in instances.open(encoding="utf-8"):
        record = json.loads(line)
        rows = record["gold"]["rows"]
        text = "No answer" if record["answerable"] is False else "\n".join(", ".join(map(str, r)) for r in rows)
        predictions[record["id"]] = predictions[record["id"]].model_copy(update={"response": f"Final answer: {text}"})
    (run / "predictions.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in predictions.values()))
    summary = score_match(instances, run)
    assert summary["answer_accuracy"] > 0.9 and summary["abstention_accuracy"] == 1.0
    records = read_scores(run / "scores" / "match")
    assert {r.answerable for r in records} == {True, False}


def test_audit_reports_gold_shapes_and_baselines(suite_dir: Path) -> None:
    audit = audit_file(suite_dir)
    manifest = json.loads((suite_dir / "manifest.json").read_text())
    share = manifest["sampling"]["unanswerable_share"]
    assert audit.overall.unanswerable == pytest.approx(share, abs=1e-4)
    assert audit.overall.no_answer == pytest.approx(share, abs=1e-4)  # it only gets the withheld ones
    assert audit.overall.empty_gold + audit.overall.lone_zero_or_null == pytest.approx(share, abs=1e-4)
    join = next(r for r in audit.by_category if r.group == "Join")
    assert join.join_non_empty == 1.0
    assert not audit.flagged_queries
    assert {r.group for r in audit.by_database} == {"store_1", "nycflights", "baseball"}


def test_audit_flags_degenerate_queries() -> None:
    def item(i: int, query: str, rows: list[list[object]]) -> AuditItem:
        return AuditItem(
            id=f"{query}-{i}",
            db_id="d",
            query_id=query,
            categories=("Aggregation",),
            gold=Result(columns=["c"], rows=rows),
        )

    items = [item(i, "bad", [[0]] if i < 3 else [[2]]) for i in range(4)] + [
        item(i, "good", [[i + 1]]) for i in range(4)
    ]
    audit = audit_items(items)
    assert audit.flagged_queries == {"bad": 0.75}
    assert audit.overall.zero == pytest.approx(3 / 8)
    assert audit.overall.no_answer == 0.0  # "No answer" is wrong when nothing was withheld by design
    assert audit.by_database[0].modal == pytest.approx(4 / 8)  # "0" for three of bad, one value of good


def test_suite_audit_cli(suite_dir: Path) -> None:
    result = CliRunner().invoke(app, ["suite", "audit", str(suite_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["overall"]["instances"] > 0
    table = CliRunner().invoke(app, ["suite", "audit", str(suite_dir / "instances.jsonl")])
    assert table.exit_code == 0 and "no_answer" in table.output
