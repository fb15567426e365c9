"""The ``judge`` scorer against a real loopback OpenAI-compatible server playing the judge."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from holobench.backends import BackendOptions
from holobench.cli import app
from holobench.records import Label, Prediction
from holobench.scoring.compare import compare_records
from holobench.scoring.judge import JudgeConfig, MalformedLabels, judge_protocol, parse_labels, score_judge
from holobench.scoring.match import match
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match
from holobench.testing.fake_server import FakeOpenAIServer, ServerState

from ..scoring_helpers import write_run


def oracle(prompt: str) -> str:
    """A judge that follows the protocol: copies the final answer, then labels rows with ``match``."""
    if "Copy out the reply's final answer" in prompt:
        reply = prompt.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
        marker = reply.rfind("Final answer:")
        return reply[marker + len("Final answer:") :].strip() if marker >= 0 else "No answer"
    rows_text = prompt.split("Correct rows:\n", 1)[1].split("Answer to grade:", 1)[0]
    answer = prompt.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
    if "(no rows" in rows_text:
        labels = match([], "Final answer: " + answer).labels
    else:
        rows = [json.loads(line.split(". ", 1)[1]) for line in rows_text.strip().splitlines() if line[:1].isdigit()]
        labels = match(rows, "Final answer: " + answer).labels
    return json.dumps({"labels": [{"row": i + 1, "label": label.value} for i, label in enumerate(labels)]})


@pytest.fixture
def judge_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(ServerState(reply=oracle)).start()
    yield server
    server.stop()


def config(server: FakeOpenAIServer, tmp_path: Path, **kw: object) -> JudgeConfig:
    return JudgeConfig(
        options=BackendOptions(model="judge-model", base_url=server.base_url, api_key_env="HB_TEST_JUDGE_KEY"),
        cache_dir=tmp_path / "cache",
        max_retries=1,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HB_TEST_JUDGE_KEY", "sk-judge-secret-never-stored-0123456789")


def test_parse_labels_accepts_fenced_json_and_rejects_bad_shapes() -> None:
    assert parse_labels('```json\n{"labels": [{"row": 1, "label": "Exact"}]}\n```', 1) == [Label.EXACT]
    for bad in ["no json", '{"labels": []}', '{"labels": [{"row": 1, "label": "maybe"}]}', '{"rows": 1}']:
        with pytest.raises(MalformedLabels):
            parse_labels(bad, 1)
    with pytest.raises(MalformedLabels):
        parse_labels('{"labels": [{"row": 1, "label": "no"}, {"row": 1, "label": "no"}]}', 1)


def test_judge_scores_a_run_and_agrees_with_match(
    judge_server: FakeOpenAIServer, tmp_path: Path, smoke_file: Path
) -> None:
    inst_file, run = smoke_file, write_run(tmp_path, smoke_file)
    summary = asyncio.run(score_judge(inst_file, run, config(judge_server, tmp_path)))
    records = read_scores(run / "scores" / "judge")
    assert summary["scored"] == summary["instances"] - 2 and summary["skipped"] == 1 and summary["failed"] == 1
    assert {r.scorer for r in records} == {"judge"}
    # every record names the judge and its protocol (prompts and schema), so judgings never mix
    versions = {r.scorer_version for r in records}
    assert len(versions) == 1
    version = versions.pop() or ""
    assert version.startswith("openai/") and version.endswith(f"@{judge_protocol()}")
    score_match(inst_file, run)
    result = compare_records(read_scores(run / "scores" / "match"), records)
    assert result["agreement"] == 1.0
    assert result["kappa"] == pytest.approx(1.0)
    assert result["by_category"] and all(row["agreement"] == 1.0 for row in result["by_category"].values())
    # The second scoring is served from the cache: no new requests reach the server.
    before = sum(judge_server.state.attempts.values())
    asyncio.run(score_judge(inst_file, run, config(judge_server, tmp_path)))
    assert sum(judge_server.state.attempts.values()) == before
    # The key never reaches results or the cache.
    for path in [*run.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert b"sk-judge-secret" not in path.read_bytes(), path


def test_malformed_judge_output_is_asked_again_then_recorded_as_failed(
    judge_server: FakeOpenAIServer, tmp_path: Path, smoke_file: Path
) -> None:
    seen: dict[str, int] = {}

    def flaky(prompt: str) -> str:
        if "Correct rows:" not in prompt:
            return oracle(prompt)
        seen[prompt] = seen.get(prompt, 0) + 1
        return "I think row 1 is fine." if seen[prompt] == 1 else oracle(prompt)

    judge_server.state.reply = flaky
    inst_file, run = smoke_file, write_run(tmp_path, smoke_file)
    summary = asyncio.run(score_judge(inst_file, run, config(judge_server, tmp_path)))
    assert summary["failed"] == 1  # only the run's own failed prediction
    assert seen and all(n >= 2 for n in seen.values())  # every label prompt was asked again

    judge_server.state.reply = lambda prompt: "not json" if "Correct rows:" in prompt else oracle(prompt)
    summary = asyncio.run(
        score_judge(inst_file, run, config(judge_server, tmp_path / "other", malformed_retries=1), tmp_path / "s2")
    )
    records = read_scores(tmp_path / "s2")
    failed = [r for r in records if r.status == "failed" and r.reason and "malformed" in r.reason]
    assert len(failed) == summary["instances"] - 2 and summary["scored"] == 0
    assert all(r.score is None for r in failed)


def test_cli_score_and_agreement(judge_server: FakeOpenAIServer, tmp_path: Path, smoke_file: Path) -> None:
    inst_file, run = smoke_file, write_run(tmp_path, smoke_file)
    runner = CliRunner()
    result = runner.invoke(app, ["score", "--instances", str(inst_file), "--predictions", str(run)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "score",
            "--instances",
            str(inst_file),
            "--predictions",
            str(run),
            "--scorer",
            "judge",
            "--judge-model",
            "judge-model",
            "--judge-base-url",
            judge_server.base_url,
            "--api-key-env",
            "HB_TEST_JUDGE_KEY",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["agreement", str(run)])
    assert result.exit_code == 0, result.output
    assert re.search(r"agreement 1\.000, Cohen's kappa 1\.000", result.output), result.output


def test_predictions_from_another_instances_file_are_refused(tmp_path: Path, smoke_file: Path) -> None:
    inst_file, run = smoke_file, write_run(tmp_path, smoke_file)
    other = tmp_path / "other.jsonl"
    other.write_text(inst_file.read_text(encoding="utf-8").splitlines(keepends=True)[0], encoding="utf-8")
    from holobench.errors import HoloBenchError

    with pytest.raises(HoloBenchError, match="not the instances file this run used"):
        score_match(other, run)
    stray = Prediction(id="nope", backend="x", model="m", prompt="cot", status="ok", response="1")
    (tmp_path / "loose.jsonl").write_text(stray.model_dump_json() + "\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match="has no instance 'nope'"):
        score_match(inst_file, tmp_path / "loose.jsonl")
