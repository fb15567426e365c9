"""The closed-book probe: requests without the context, the setting in manifests and records,
refused reruns, the report's closed-vs-open table, and submissions that keep the setting."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from holobench.backends import BackendOptions, SamplingParams
from holobench.cli import app
from holobench.errors import HoloBenchError
from holobench.estimate import dry_run
from holobench.fewshot import demonstrations
from holobench.journal import Journal
from holobench.jsonl import read_instances
from holobench.prompts import PROMPTS, answer_format, closed_book, prompt_version
from holobench.records import RunManifest, ScoreRecord
from holobench.report import write_report
from holobench.runner import RunConfig, Runner, request_for
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match
from holobench.submit import SubmissionError, pack, validate
from holobench.testing.fake_server import FakeOpenAIServer

from .scoring_helpers import write_run


def config(server: FakeOpenAIServer | None, tmp_path: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "backend": "openai",
        "options": BackendOptions(model="fake-model", base_url=server.base_url if server else None),
        "cache_dir": None,
        "timeout_s": 5.0,
        "sampling": SamplingParams(max_tokens=64),
    }
    return RunConfig.model_validate({**base, **kw})


def run(instances: Path, out: Path, cfg: RunConfig, *, supersede: bool = False) -> Runner:
    runner = Runner(instances, out, cfg, supersede=supersede)
    asyncio.run(runner.run())
    return runner


@pytest.mark.parametrize("prompt", PROMPTS)
def test_closed_book_request_has_no_context_line(smoke_file: Path, tmp_path: Path, prompt: str) -> None:
    instance = next(iter(read_instances(smoke_file)))
    open_book = request_for(instance, config(None, tmp_path, prompt=prompt)).messages[0].content
    request = request_for(instance, config(None, tmp_path, prompt=prompt, closed_book=True))
    text = request.messages[0].content
    sentences = [line for line in instance.context.splitlines() if line.strip()]
    assert sentences and all(line in open_book for line in sentences)
    assert not [line for line in sentences if line in text]  # no sentence of the context is sent
    assert "Facts:" not in text and instance.question in text
    assert request.prompt == f"{prompt}+closed" and request.context == "" and request.lines == ()
    if prompt == "fewshot":  # the demonstrations lose their contexts, keep their questions and answers
        for demo in demonstrations(instance.db_id, 0):
            assert demo.question in text and f"Answer: {demo.answer}" in text
            assert not [line for line in demo.context.splitlines() if line.strip() and line in text]
        assert text.endswith("Answer:")
    marker = {"cot": "Final answer:", "direct": '"No answer"', "structured": "```json", "fewshot": "Answer:"}
    assert marker[prompt] in text  # the answer format the scorers read stays the same


def test_prompt_names_and_dry_run_tokens(smoke_file: Path, tmp_path: Path) -> None:
    assert closed_book("cot+closed@0123") and not closed_book("cot@0123")
    assert answer_format("structured+closed") == "structured" and answer_format("cot") == "cot"
    assert prompt_version("cot+closed") != prompt_version("cot")
    opened = dry_run(smoke_file, config(None, tmp_path))
    closed = dry_run(smoke_file, config(None, tmp_path, closed_book=True))
    assert closed["prompt"] == "cot+closed" and closed["instances"] == opened["instances"]
    assert closed["max_prompt_tokens"] * 5 < opened["max_prompt_tokens"]


def test_closed_book_run_is_recorded_and_refused_as_an_open_book_rerun(
    smoke_file: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "closed"
    run(smoke_file, out, config(server, tmp_path, closed_book=True))
    manifest = RunManifest.model_validate_json((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest.closed_book is True and manifest.prompt == prompt_version("cot+closed")
    predictions = Journal(out / "predictions.jsonl").load(repair=False)
    assert predictions and {p.prompt for p in predictions.values()} == {"cot+closed"}
    contexts = [i.context.splitlines()[0] for i in read_instances(smoke_file)]
    sent = b"".join(body for _, body in server.state.requests).decode("utf-8")
    assert not [line for line in contexts if json.dumps(line)[1:-1] in sent]
    first = (out / "predictions.jsonl").read_bytes()
    with pytest.raises(HoloBenchError, match=r"different closed_book.*--supersede"):
        run(smoke_file, out, config(server, tmp_path))
    assert (out / "predictions.jsonl").read_bytes() == first
    runner = run(smoke_file, out, config(server, tmp_path), supersede=True)
    assert runner.superseded is not None and (runner.superseded / "predictions.jsonl").read_bytes() == first
    assert {p.prompt for p in Journal(out / "predictions.jsonl").load(repair=False).values()} == {"cot"}
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["closed_book"] is False


def _as_closed(run_dir: Path) -> Path:
    """A hand-written run made closed-book: every record and the manifest say ``cot+closed``."""
    lines = (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [{**json.loads(line), "prompt": "cot+closed"} for line in lines]
    (run_dir / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(prompt="cot+closed@test", closed_book=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run_dir


def _expected(opened: list[ScoreRecord], closed: list[ScoreRecord], category: str) -> dict[str, float]:
    """The table's row, computed directly: means over instances scored in both, not unanswerable by design."""

    def kept(records: list[ScoreRecord]) -> dict[str, float]:
        return {
            r.id: float(r.score)
            for r in records
            if r.status == "scored"
            and r.score is not None
            and r.answerable is not False
            and (category == "all" or category in {c.value for c in r.categories})
        }

    a, b = kept(opened), kept(closed)
    both = sorted(a.keys() & b.keys())
    mean_a, mean_b = sum(a[i] for i in both) / len(both), sum(b[i] for i in both) / len(both)
    return {"n": len(both), "open": mean_a, "closed": mean_b, "gap": mean_a - mean_b, "share": mean_b / mean_a}


def test_report_closed_book_table_matches_a_direct_computation(smoke_file: Path, tmp_path: Path) -> None:
    opened = write_run(tmp_path / "open", smoke_file, model="model-a", quality=2)
    closed = _as_closed(write_run(tmp_path / "closed", smoke_file, model="model-a", quality=4))
    lonely = _as_closed(write_run(tmp_path / "lonely", smoke_file, model="model-b", quality=3))
    for folder in (opened, closed, lonely):
        score_match(smoke_file, folder)
    summary = write_report([opened, closed, lonely], tmp_path / "report", n_boot=200, position=False)
    table = pd.read_csv(tmp_path / "report" / "tables" / "closed_book.csv")
    assert set(table["closed_run"]) == {"openai:model-a:cot+closed"}  # model-b has no open-book partner
    assert table["category"].iloc[0] == "all" and len(table) > 1
    open_records, closed_records = (read_scores(f / "scores" / "match" / "scores.jsonl") for f in (opened, closed))
    assert any(r.answerable is False for r in open_records)  # the smoke suite has some to leave out
    for row in table.itertuples():
        want = _expected(open_records, closed_records, str(row.category))
        assert row.n == want["n"]
        assert row.open == pytest.approx(want["open"], abs=1e-5)
        assert row.closed == pytest.approx(want["closed"], abs=1e-5)
        assert row.gap == pytest.approx(want["gap"], abs=1e-5)
        assert row.closed_share == pytest.approx(want["share"], abs=1e-5)
        assert row.gap_ci_low <= row.gap + 1e-9 <= row.gap_ci_high + 2e-9
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Closed book vs open book" in markdown and "`tables/closed_book.csv`" in markdown
    assert "model-b:cot+closed is closed-book but this report has no open-book run" in markdown
    assert summary["closed_book"]["notes"] and summary["closed_book"]["rows"][0]["category"] == "all"
    write_report([opened], tmp_path / "plain", n_boot=50, position=False)
    assert not (tmp_path / "plain" / "tables" / "closed_book.csv").exists()


def test_submission_keeps_the_closed_book_setting(smoke_file: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "closed"
    run(smoke_file, out, config(server, tmp_path, closed_book=True))
    score_match(smoke_file, out)
    packed = pack(out, out / "scores" / "match", tmp_path / "sub", suite="smoke")
    sub = validate(packed, smoke_file)
    assert sub.manifest.prompt == prompt_version("cot+closed")
    assert {p.prompt for p in sub.predictions} == {s.prompt for s in sub.scores} == {"cot+closed"}
    # renamed open-book: the closed-book template's hash gives it away
    forged = tmp_path / "forged"
    shutil.copytree(packed, forged)
    manifest = json.loads((forged / "manifest.json").read_text(encoding="utf-8"))
    manifest["prompt"] = "cot@" + manifest["prompt"].split("@")[1]
    (forged / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(SubmissionError, match="closed-book template under an open-book name"):
        validate(forged)
    # a run manifest that says closed-book under an open-book prompt name is not packed
    run_manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (out / "manifest.json").write_text(json.dumps({**run_manifest, "prompt": "cot@x"}), encoding="utf-8")
    with pytest.raises(SubmissionError, match="lacks '\\+closed'"):
        pack(out, out / "scores" / "match", tmp_path / "sub2", suite="smoke")


def test_run_help_lists_closed_book() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "--closed-book" in result.output
