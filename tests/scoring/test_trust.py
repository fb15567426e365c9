"""Submitted scores are not trusted: out-of-range, self-inconsistent and tampered ones are refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holobench.backends import BackendOptions
from holobench.errors import HoloBenchError
from holobench.leaderboard import build
from holobench.runner import RunConfig, Runner
from holobench.scoring import score_match
from holobench.submit import SubmissionError, pack, validate


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory, smoke_file: Path) -> Path:
    root = tmp_path_factory.mktemp("trust")
    run = root / "run"
    cfg = RunConfig(backend="no-answer", options=BackendOptions(), cache_dir=None)
    asyncio.run(Runner(smoke_file, run, cfg).run())
    score_match(smoke_file, run)
    return pack(run, run / "scores" / "match", root / "sub", suite="smoke")


def _edited(packed: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(packed, copy)
    lines = [json.loads(x) for x in (copy / "scores.jsonl").read_text().splitlines()]
    for record in lines:
        change(record)
    (copy / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return copy


def _all_right(record: dict[str, Any]) -> None:
    record["labels"], record["score"] = ["exact"], 1.0


def test_a_valid_submission_passes_with_rescoring(packed: Path, smoke_file: Path) -> None:
    sub = validate(packed, smoke_file)
    assert len(sub.scores) == 36


def test_consistent_but_tampered_scores_are_caught_by_rescoring(packed: Path, smoke_file: Path, tmp_path: Path) -> None:
    """Every 'No answer' marked right, labels and all: consistent on its own, false against gold."""
    tampered = _edited(packed, tmp_path, _all_right)
    validate(tampered)  # without the suite nothing can tell
    with pytest.raises(SubmissionError, match=r"33 score\(s\) differ from match rescored") as info:
        validate(tampered, smoke_file)
    assert "\n" not in str(info.value)
    with pytest.raises(HoloBenchError, match="differ from match rescored"):
        build([packed, tampered], tmp_path / "site", instances=smoke_file)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(score=50.0), "outside \\[0, 1\\]"),
        (lambda r: r.update(score=float("nan")), "outside \\[0, 1\\]"),
        (lambda r: r.update(score=1.0), "disagree with their own labels"),
        (lambda r: r.update(labels=[]), "without labels"),
    ],
)
def test_out_of_range_or_inconsistent_scores_are_refused_without_the_suite(
    packed: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    def on_no_answer(record: dict[str, Any]) -> None:
        if record["status"] == "scored" and record["score"] == 0.0:
            change(record)

    with pytest.raises(SubmissionError, match=message):
        validate(_edited(packed, tmp_path, on_no_answer))
