"""Replies cut by the token limit: their own status, counted apart, never averaged in as zero."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from holobench.backends import BackendOptions
from holobench.jsonl import read_instances
from holobench.records import Instance, Prediction
from holobench.report import write_report
from holobench.runner import RunConfig, Runner
from holobench.scoring.match import has_final_answer
from holobench.scoring.score import match_record, score_match
from holobench.testing.fake_server import FakeOpenAIServer, ServerState


@pytest.mark.parametrize(
    ("response", "prompt", "expected"),
    [
        ("<think>Counting the rows one by one: 1, 2, 3", "cot", False),  # thinking cut off
        ("Let me go through the sentences. Rock has", "cot", False),
        ("Reasoning.\nFinal answer: 12", "cot", True),
        ("Reasoning.\nAnswer: 12", "cot", True),
        ("<think>done</think>\nFinal answer: Rock", "cot", True),
        ('Checking.\n```json\n[["Rock"]', "structured", False),  # cut before its block closes
        ('Checking.\n```json\n[["Rock"]]\n```', "structured", True),
        ("Checking the rows first", "structured", False),
        ("Rock, Latin, Me", "direct", True),
        ("103 at EWR for May 1, 2013 at 08:00: temperature", "fewshot", True),  # an answer line that ran on
        ("<think>still thinking", "direct", False),
        ("", "direct", False),
    ],
)
def test_has_final_answer(response: str, prompt: str, expected: bool) -> None:
    assert has_final_answer(response, prompt) is expected


def _instance(smoke_file: Path) -> Instance:
    return next(read_instances(smoke_file))


def _prediction(instance: Instance, response: str, finish: str | None) -> Prediction:
    return Prediction(
        id=instance.id, backend="b", model="m", prompt="cot", status="ok", response=response, finish_reason=finish
    )


def test_a_cut_reply_without_an_answer_is_truncated_not_wrong(smoke_file: Path) -> None:
    instance = _instance(smoke_file)
    record = match_record(instance, _prediction(instance, "<think>Counting rows: 1, 2, 3, 4", "length"))
    assert record.status == "truncated" and record.score is None and not record.labels
    assert "finish_reason length" in (record.reason or "") and "--max-tokens" in (record.reason or "")


def test_a_cut_reply_that_reached_its_answer_is_scored(smoke_file: Path) -> None:
    instance = _instance(smoke_file)
    rows = "\n".join("- " + ", ".join(map(str, row)) for row in instance.gold.rows) or "No answer"
    reply = f"Reasoning.\nFinal answer:\n{rows}\nThat is all I"
    record = match_record(instance, _prediction(instance, reply, "length"))
    assert record.status == "scored" and record.score is not None


def test_no_final_answer_but_a_normal_stop_is_scored_as_wrong(smoke_file: Path) -> None:
    """Only the token limit makes a reply truncated; a model that stops without answering is wrong."""
    instance = _instance(smoke_file)
    record = match_record(instance, _prediction(instance, "I am not sure how to count these.", "stop"))
    assert record.status == "scored"


@pytest.fixture()
def cut_server() -> Iterator[FakeOpenAIServer]:
    """Every third prompt (by hash) is cut off mid-thought; the rest answer "No answer"."""

    def cut(prompt: str) -> bool:
        return sum(prompt.encode()) % 3 == 0

    state = ServerState(
        reply=lambda p: "<think>Let me count the rows one by one" if cut(p) else "Final answer: No answer",
        finish=lambda p: "length" if cut(p) else "stop",
    )
    srv = FakeOpenAIServer(state).start()
    yield srv
    srv.stop()


def test_truncation_from_an_openai_compatible_server_is_counted_apart(
    cut_server: FakeOpenAIServer, smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    config = RunConfig(
        backend="openai", options=BackendOptions(model="m", base_url=cut_server.base_url), cache_dir=None
    )
    run = tmp_path / "run"
    asyncio.run(Runner(smoke_file, run, config).run())
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    cut = {p["id"] for p in predictions if p["finish_reason"] == "length"}
    assert 0 < len(cut) < len(predictions)
    summary = score_match(smoke_file, run)
    assert summary["truncated"] == len(cut)
    assert summary["scored"] == len(predictions) - len(cut)
    records = [json.loads(line) for line in (run / "scores" / "match" / "scores.jsonl").read_text().splitlines()]
    assert {r["id"] for r in records if r["status"] == "truncated"} == cut
    assert all(r["score"] is None for r in records if r["status"] == "truncated")
    # the mean is over answered instances only: "No answer" scores what it scores, no zeros added
    scored = [r["score"] for r in records if r["status"] == "scored"]
    assert summary["mean_score"] == pytest.approx(sum(scored) / len(scored), abs=1e-6)
    report = write_report([run], tmp_path / "report", n_boot=50)
    assert report["runs"][0]["truncated"] == len(cut)
    overall = (tmp_path / "report" / "tables" / "overall.csv").read_text().splitlines()
    assert overall[0].endswith("truncated") and overall[1].endswith(f",{len(cut)}")
