"""Aggregation with bootstrap intervals, and the report folder (Markdown, CSV, PNG and SVG)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from holobench.aggregate import Run, bootstrap_ci, frame, run_labels, table
from holobench.cli import app
from holobench.errors import HoloBenchError
from holobench.paired import pair_seed, paired_difference
from holobench.report import write_report
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match

from .scoring_helpers import write_run


def test_bootstrap_known_distribution() -> None:
    # Two queries, one always right and one always wrong: resampled means are 0, 0.5 or 1.
    scores = np.array([1.0, 1.0, 0.0, 0.0])
    low, high = bootstrap_ci(scores, np.array(["a", "a", "b", "b"]), n_boot=4000, seed=1)
    assert (low, high) == (0.0, 1.0)
    assert bootstrap_ci(np.array([0.3, 0.5]), np.array(["a", "a"])) == (0.4, 0.4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.floats(0, 1)), min_size=1, max_size=40),
    st.integers(0, 2**16),
)
def test_bootstrap_interval_is_ordered_bounded_and_seeded(data: list[tuple[int, float]], seed: int) -> None:
    clusters = np.array([c for c, _ in data])
    scores = np.array([s for _, s in data])
    low, high = bootstrap_ci(scores, clusters, n_boot=300, seed=seed)
    per_query = [scores[clusters == c].mean() for c in np.unique(clusters)]
    assert min(per_query) - 1e-12 <= low <= high <= max(per_query) + 1e-12
    assert bootstrap_ci(scores, clusters, n_boot=300, seed=seed) == (low, high)


def test_tables_count_unscored_apart_and_split_categories(tmp_path: Path, smoke_file: Path) -> None:
    run = write_run(tmp_path, smoke_file)
    score_match(smoke_file, run)
    records = read_scores(run / "scores" / "match")
    df = frame([Run("a", records)])
    overall = table(df, []).iloc[0]
    scored = [r.score for r in records if r.status == "scored"]
    assert overall["n"] == len(scored) and overall["skipped"] == 1 and overall["failed"] == 1
    assert overall["mean"] == pytest.approx(sum(s or 0.0 for s in scored) / len(scored))
    assert overall["ci_low"] <= overall["mean"] <= overall["ci_high"]
    by_category = table(df, ["category"])
    assert by_category["n"].sum() == sum(len(r.categories) for r in records if r.status == "scored")
    assert set(by_category["category"]) == {c.value for r in records for c in r.categories}


def test_run_labels_lengthen_only_when_needed(tmp_path: Path, smoke_file: Path) -> None:
    a = read_scores_of(write_run(tmp_path / "a", smoke_file, model="m"), smoke_file)
    b = [r.model_copy(update={"backend": "rag"}) for r in a]
    assert run_labels([a]) == ["m"]
    assert run_labels([a, b]) == ["openai:m", "rag:m"]


def read_scores_of(run: Path, instances: Path) -> list:  # type: ignore[type-arg]
    score_match(instances, run)
    return read_scores(run / "scores" / "match")


def test_report_files_match_the_tables(tmp_path: Path, smoke_file: Path) -> None:
    runs = [
        write_run(tmp_path, smoke_file, model="model-a", quality=3),
        write_run(tmp_path, smoke_file, model="model-b", quality=2),
    ]
    for run in runs:
        score_match(smoke_file, run)
    out = tmp_path / "report"
    summary = write_report(runs, out, n_boot=500)
    assert [r["label"] for r in summary["runs"]] == ["model-a", "model-b"]
    for name in ["overall", "length", "setting", "placement", "category", "database", "length_x_setting"]:
        csv = pd.read_csv(out / "tables" / f"{name}.csv")
        assert {"model", "mean", "ci_low", "ci_high", "n", "queries", "skipped", "failed"} <= set(csv.columns)
        assert (csv["ci_low"] <= csv["mean"] + 1e-9).all() and (csv["mean"] <= csv["ci_high"] + 1e-9).all()
    overall = pd.read_csv(out / "tables" / "overall.csv").set_index("model")
    for r in summary["runs"]:
        assert overall.loc[r["label"], "mean"] == pytest.approx(r["mean"], abs=1e-6)
    for plot in ["score_vs_length", "score_by_placement", "heatmap_length_density"]:
        assert (out / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "plots" / f"{plot}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert not (out / "plots" / "recall_vs_score.png").exists()  # no RAG run
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## By placement" in markdown and "![score_vs_length](plots/score_vs_length.png)" in markdown
    assert "model-a" in markdown and "model-b" in markdown
    # Seeded and timestamp-free: a second report is byte-identical.
    write_report(runs, tmp_path / "again", n_boot=500)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".csv", ".svg", ".md", ".json"}:
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(out)).read_bytes(), path


def test_rag_runs_get_the_recall_plot(tmp_path: Path, smoke_file: Path) -> None:
    run = write_run(tmp_path, smoke_file, model="rag-model")
    lines = (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    from holobench.records import Prediction

    preds = [Prediction.model_validate_json(x) for x in lines]
    for i, p in enumerate(preds):
        p.retrieval = {"recall": (i % 5) / 4}
    (run / "predictions.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in preds), encoding="utf-8")
    score_match(smoke_file, run)
    write_report([run], tmp_path / "rep", n_boot=200)
    assert (tmp_path / "rep" / "plots" / "recall_vs_score.png").is_file()
    assert (tmp_path / "rep" / "tables" / "retrieval_recall.csv").is_file()


def test_report_errors_are_one_line_and_leave_nothing(tmp_path: Path, smoke_file: Path) -> None:
    run = write_run(tmp_path, smoke_file)
    with pytest.raises(HoloBenchError, match="no match scores found"):
        write_report([run], tmp_path / "r")
    assert not (tmp_path / "r").exists()
    result = CliRunner().invoke(app, ["report", str(run), "-o", str(tmp_path / "r")])
    assert result.exit_code != 0
    score_match(smoke_file, run)
    result = CliRunner().invoke(app, ["report", str(run), "-o", str(tmp_path / "r"), "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.md").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]  # no staging folder left


def test_report_compares_runs_in_pairs_and_skips_disjoint_ones(tmp_path: Path, smoke_file: Path) -> None:
    runs = [
        write_run(tmp_path, smoke_file, model="model-a", quality=4),
        write_run(tmp_path, smoke_file, model="model-b", quality=2),
    ]
    for run in runs:
        score_match(smoke_file, run)
    elsewhere = tmp_path / "elsewhere" / "scores.jsonl"  # a run of other instances: nothing to pair
    elsewhere.parent.mkdir()
    moved = [
        r.model_copy(update={"id": "x-" + r.id, "model": "model-c"}) for r in read_scores(runs[0] / "scores" / "match")
    ]
    elsewhere.write_text("".join(r.model_dump_json() + "\n" for r in moved), encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *map(str, runs), str(elsewhere), "-o", str(out), "--resamples", "300"])
    assert result.exit_code == 0, result.output

    paired = pd.read_csv(out / "tables" / "paired.csv")
    assert list(paired[["a", "b"]].itertuples(index=False, name=None)) == [("model-a", "model-b")]
    row = paired.iloc[0]
    a, b = (read_scores(r / "scores" / "match") for r in runs)
    expected = paired_difference(
        Run("model-a", a), Run("model-b", b), n_boot=300, seed=pair_seed(0, "model-a", "model-b")
    )
    assert (row["diff"], row["ci_low"]) == pytest.approx((expected.diff, expected.ci_low), abs=1e-6)
    assert row["n_pairs"] == sum(r.status == "scored" for r in a) and row["only_a"] == row["only_b"] == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [p["b"] for p in summary["paired"]] == ["model-b"] and len(summary["paired_skipped"]) == 2
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Paired comparisons" in markdown and "model-a and model-c: no instance is scored in both" in markdown
    assert "Paired comparisons" in result.output and "paired comparison skipped: model-a and model-c" in result.output

    write_report(runs[:1], tmp_path / "single", n_boot=100)  # one run: nothing to pair, no section
    assert not (tmp_path / "single" / "tables" / "paired.csv").exists()
    assert "Paired comparisons" not in (tmp_path / "single" / "report.md").read_text(encoding="utf-8")
