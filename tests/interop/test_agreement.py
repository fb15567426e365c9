"""The same replies score the same in holobench, in inspect_ai and in lm-evaluation-harness.

One loopback server answers all three harnesses, each instance with its scripted reply (right,
half right, wrong, or "none"); each harness sends holobench's prompt, and each scores with
holobench's ``match``: per instance, the three scores are equal, and so are the prompts the
server received."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from holobench.backends import BackendOptions, SamplingParams
from holobench.export import export
from holobench.records import Instance
from holobench.runner import RunConfig, Runner
from holobench.scoring import read_scores
from holobench.scoring.score import score_match
from holobench.testing.fake_server import FakeOpenAIServer

inspect_ai = pytest.importorskip("inspect_ai")
pytest.importorskip("lm_eval")


def user_messages(server: FakeOpenAIServer, start: int) -> list[str]:
    """The user message of each chat request the server got after the first ``start``."""
    return [json.loads(body)["messages"][-1]["content"] for _, body in server.state.requests[start:]]


def holobench_scores(
    suite: Path, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, float | None]:
    monkeypatch.setenv("HB_TEST_KEY", "sk-test")
    config = RunConfig(
        backend="openai",
        options=BackendOptions(model="fake-model", base_url=server.base_url, api_key_env="HB_TEST_KEY"),
        cache_dir=None,
        sampling=SamplingParams(),
    )
    asyncio.run(Runner(suite / "instances.jsonl", tmp_path / "run", config).run())
    score_match(suite / "instances.jsonl", tmp_path / "run", tmp_path / "scores")
    return {r.id: r.score for r in read_scores(tmp_path / "scores")}


def inspect_scores(
    suite: Path, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, float | None]:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test")
    (log,) = inspect_ai.eval(
        "holobench/smoke",
        model="openai-api/fake/fake-model",
        model_base_url=server.base_url,
        task_args={"instances": str(suite)},
        log_dir=str(tmp_path / "inspect-logs"),
        display="none",
    )
    assert log.status == "success", log.error
    return {str(s.id): s.scores["holobench_match"].value for s in log.samples or [] if s.scores}


def lm_eval_scores(suite: Path, server: FakeOpenAIServer, tmp_path: Path) -> dict[str, float | None]:
    """The README's command: the exported task, lm-eval's OpenAI-compatible chat model on loopback."""
    export(suite, tmp_path / "task", "lm-eval")
    command = [
        str(Path(sys.executable).parent / "lm_eval"),
        *("--model", "local-chat-completions", "--apply_chat_template"),
        *("--model_args", f"model=fake-model,base_url={server.base_url}/chat/completions"),
        *("--include_path", str(tmp_path / "task"), "--tasks", "holobench_smoke"),
        *("--output_path", str(tmp_path / "lm-eval-out"), "--log_samples"),
    ]
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (samples,) = (tmp_path / "lm-eval-out").rglob("samples_holobench_smoke_*.jsonl")
    found = {}
    for line in samples.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        found[sample["doc"]["id"]] = sample["match"]
    return found


def test_one_reply_one_score_in_three_harnesses(
    tiny_suite: Path,
    tiny_instances: list[Instance],
    answering_server: FakeOpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = holobench_scores(tiny_suite, answering_server, tmp_path, monkeypatch)
    prompts = {"holobench": sorted(user_messages(answering_server, 0))}
    sent = len(answering_server.state.requests)
    theirs = inspect_scores(tiny_suite, answering_server, tmp_path, monkeypatch)
    prompts["inspect"] = sorted(user_messages(answering_server, sent))
    sent = len(answering_server.state.requests)
    lm_eval = lm_eval_scores(tiny_suite, answering_server, tmp_path)
    prompts["lm-eval"] = sorted(user_messages(answering_server, sent))

    assert set(ours) == {i.id for i in tiny_instances}
    assert {0.0, 1.0} <= set(ours.values()), "the scripted replies should score both ways"
    assert theirs == ours
    assert lm_eval == ours
    assert len(prompts["holobench"]) == len(tiny_instances)
    assert prompts["inspect"] == prompts["holobench"] == prompts["lm-eval"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("log")] == []  # inspect's ./logs not written
