"""``inspect eval holobench/<suite>``: the task found through the entry point, run end to end by
inspect_ai with its mock model and against the loopback server, scored by holobench's scorers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from holobench.errors import HoloBenchError
from holobench.export import export
from holobench.interop.replies import prediction_of
from holobench.prompts import render_prompt
from holobench.records import Instance
from holobench.scoring.score import match_record
from holobench.testing.fake_server import FakeOpenAIServer
from tests.interop.conftest import QUERIES, reply_for

inspect_ai = pytest.importorskip("inspect_ai")
from inspect_ai.log import EvalLog, read_eval_log  # noqa: E402
from inspect_ai.model import ChatMessage, ModelOutput, ModelUsage  # noqa: E402


def mock_outputs(instances: list[Instance], cut_off: str | None = None) -> Any:
    """mockllm's reply function: each instance's scripted reply (found by its prompt), with usage
    set so inspect has no tokens to count; the instance ``cut_off`` stops at max_tokens."""

    def output(messages: list[ChatMessage], *_: Any) -> ModelOutput:
        prompt = messages[-1].text
        found = [(i, x) for i, x in enumerate(instances) if x.question in prompt and x.context in prompt]
        if not found:
            out = ModelOutput.from_content("mockllm", "Final answer: none")
        elif found[0][1].id == cut_off:
            out = ModelOutput.from_content("mockllm", "Counting the lines, one by", stop_reason="max_tokens")
        else:
            out = ModelOutput.from_content("mockllm", reply_for(found[0][1], found[0][0]))
        out.usage = ModelUsage(input_tokens=len(prompt) // 4, output_tokens=8, total_tokens=len(prompt) // 4 + 8)
        return out

    return output


def run_eval(task: str, tmp_path: Path, **kwargs: Any) -> EvalLog:
    (log,) = inspect_ai.eval(task, log_dir=str(tmp_path / "logs"), display="none", **kwargs)
    assert log.status == "success", log.error
    assert list((tmp_path / "logs").iterdir()), "inspect wrote its log elsewhere"
    return log


def sample_scores(log: EvalLog, scorer: str = "holobench_match") -> dict[str, Any]:
    assert log.samples is not None
    return {str(s.id): s.scores[scorer] for s in log.samples if s.scores}


def test_mockllm_run_scores_as_holobench_does(tiny_suite: Path, tiny_instances: list[Instance], tmp_path: Path) -> None:
    cut = tiny_instances[1].id
    log = run_eval(
        "holobench/smoke",
        tmp_path,
        model="mockllm/model",
        model_args={"custom_outputs": mock_outputs(tiny_instances, cut_off=cut)},
        task_args={"instances": str(tiny_suite)},
    )
    scores = sample_scores(log)
    assert set(scores) == {i.id for i in tiny_instances}
    expected: dict[str, float] = {}
    for index, instance in enumerate(tiny_instances):
        score = scores[instance.id]
        if instance.id == cut:  # cut off before a final answer: no score, as `holobench score` says
            assert score.value == "N" and score.metadata["status"] == "truncated"
            continue
        reply = reply_for(instance, index)
        record = match_record(instance, prediction_of(instance, reply, backend="x", model="x", prompt="cot"))
        assert score.value == record.score and score.metadata["labels"] == [x.value for x in record.labels]
        expected[instance.id] = record.score or 0.0
    assert len(set(expected.values())) > 1, "the scripted replies should not all score alike"
    metrics = log.results.scores[0].metrics if log.results else {}
    assert metrics["scored"].value == len(expected)
    assert metrics["scored_mean"].value == pytest.approx(sum(expected.values()) / len(expected))
    assert log.samples is not None
    first = log.samples[0]
    instance = next(i for i in tiny_instances if i.id == first.id)
    assert first.messages[0].text == render_prompt("cot", instance.context, instance.question)
    assert first.metadata["query_id"] == instance.query_id and first.metadata["placement"] == instance.config.placement


def test_suite_generated_on_the_fly_with_a_cut(tiny_instances: list[Instance], tmp_path: Path) -> None:
    log = run_eval(
        "holobench/smoke",
        tmp_path,
        model="mockllm/model",
        model_args={"custom_outputs": mock_outputs(tiny_instances)},
        task_args={"queries": QUERIES[0], "lengths": "1k"},
    )
    assert log.samples is not None and len(log.samples) == 4  # 2 settings x 2 placements at 1k
    assert {s.metadata["query_id"] for s in log.samples} == {QUERIES[0]}
    assert {s.metadata["target_tokens"] for s in log.samples} == {1024}


def test_an_export_folder_is_an_instances_source(
    tiny_suite: Path, tiny_instances: list[Instance], tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    export(tiny_suite, tmp_path / "hf", "hf")
    log = run_eval(
        "holobench/suite",
        tmp_path,
        model="mockllm/model",
        model_args={"custom_outputs": mock_outputs(tiny_instances)},
        task_args={"instances": str(tmp_path / "hf"), "prompt": "structured"},
    )
    assert log.samples is not None
    assert sorted(str(s.id) for s in log.samples) == sorted(i.id for i in tiny_instances)
    assert "JSON" in log.samples[0].messages[0].text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"scorer": "exact"}, "scorer='exact': use match, judge or match,judge"),
        ({"scorer": "judge"}, "-T judge_model=MODEL"),
        (
            {"scorer": "judge", "judge_model": "m", "judge_api_key_env": "HB_UNSET_KEY"},
            "HB_UNSET_KEY: the variable is not set",
        ),
        ({"prompt": "fewshot"}, "prompt='fewshot': use one of"),
        ({"lengths": "big"}, "lengths='big'"),
        ({"instances": "no/such/instances.jsonl"}, "no such file or folder"),
        ({"queries": "store_1-q001", "lengths": "2k"}, "widen the cut"),
    ],
)
def test_bad_task_arguments_say_what_to_fix(args: dict[str, Any], message: str, tiny_suite: Path) -> None:
    from inspect_ai.util import registry_create

    if "instances" not in args:
        args = {"instances": str(tiny_suite), **args}
    with pytest.raises(HoloBenchError, match=message.replace("(", r"\(").replace("[", r"\[")):
        registry_create("task", "holobench/smoke", **args)


def test_every_bundled_suite_is_a_task_with_the_same_arguments() -> None:
    """A suite added to holobench/suites/ is an inspect task without another line of code."""
    import inspect

    from inspect_ai.util import registry_info

    from holobench.interop import inspect_tasks
    from holobench.suite_file import BUNDLED_SUITES

    names = sorted(path.stem for path in BUNDLED_SUITES.glob("*.yaml"))
    assert {"smoke", "paper", "paper-official", "smoke-counterfactual", "paper-counterfactual"} <= set(names)
    expected = [p for p in inspect.signature(inspect_tasks.suite).parameters if p != "suite"]
    for name in names:
        factory = getattr(inspect_tasks, name.replace("-", "_"))
        assert registry_info(factory).name == f"holobench/{name}"
        assert list(inspect.signature(factory).parameters) == expected
        assert f"{name}.yaml" in (factory.__doc__ or "")


def test_inspect_cli_against_the_loopback_server(
    tiny_suite: Path, tiny_instances: list[Instance], answering_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The README's command, as a user types it: inspect's OpenAI-compatible provider, base URL on loopback."""
    env = {**os.environ, "FAKE_API_KEY": "sk-test-not-logged"}
    command = [
        *(Path(sys.executable).parent / "inspect",),
        "eval",
        "holobench/smoke",
        "--model",
        "openai-api/fake/fake-model",
        "--model-base-url",
        answering_server.base_url,
        "-T",
        f"instances={tiny_suite}",
        "--log-dir",
        str(tmp_path / "logs"),
        "--display",
        "plain",
    ]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = (tmp_path / "logs").iterdir()
    log = read_eval_log(str(path))
    scores = sample_scores(log)
    for index, instance in enumerate(tiny_instances):
        record = match_record(
            instance, prediction_of(instance, reply_for(instance, index), backend="x", model="x", prompt="cot")
        )
        assert scores[instance.id].value == record.score
    assert "sk-test-not-logged" not in path.read_bytes().decode("latin-1")
    assert not (tmp_path / "logs" / "logs").exists() and [p.name for p in tmp_path.iterdir()] == ["logs"]


def test_the_judge_scores_as_holobench_score_judge(
    tiny_suite: Path, tiny_instances: list[Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """inspect's ``holobench_judge`` and ``holobench score --scorer judge`` ask one judge (on
    loopback) about the same replies and record the same labels."""
    from holobench.scoring.judge import JudgeConfig, score_judge
    from holobench.scoring.run import read_scores
    from holobench.testing.fake_server import ServerState
    from tests.scoring.test_judge import oracle

    monkeypatch.setenv("HB_TEST_JUDGE_KEY", "sk-judge-secret-never-logged")
    monkeypatch.chdir(tmp_path)  # the judge's response cache (.cache/holobench) lands here
    judge = FakeOpenAIServer(ServerState(reply=oracle)).start()
    try:
        log = run_eval(
            "holobench/smoke",
            tmp_path,
            model="mockllm/model",
            model_args={"custom_outputs": mock_outputs(tiny_instances)},
            task_args={
                "instances": str(tiny_suite),
                "scorer": "match,judge",
                "judge_model": "judge-model",
                "judge_base_url": judge.base_url,
                "judge_api_key_env": "HB_TEST_JUDGE_KEY",
            },
        )
        run = tmp_path / "run"
        run.mkdir()
        lines = [
            prediction_of(i, reply_for(i, n), backend="inspect", model="mockllm/model", prompt="cot").model_dump_json()
            for n, i in enumerate(tiny_instances)
        ]
        (run / "predictions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        options = {"model": "judge-model", "base_url": judge.base_url, "api_key_env": "HB_TEST_JUDGE_KEY"}
        asyncio.run(score_judge(tiny_suite / "instances.jsonl", run, JudgeConfig(options=options, cache_dir=None)))
    finally:
        judge.stop()
    records = {r.id: r for r in read_scores(run / "scores" / "judge")}
    judged = sample_scores(log, "holobench_judge")
    assert set(judged) == set(records)
    for sample_id, score in judged.items():
        assert score.value == records[sample_id].score
        assert score.metadata["labels"] == [x.value for x in records[sample_id].labels]
        assert score.metadata["scorer_version"] == records[sample_id].scorer_version
    assert {s.value for s in judged.values()} == {s.value for s in sample_scores(log).values()}
    logged = b"".join(p.read_bytes() for p in (tmp_path / "logs").iterdir())
    assert b"sk-judge-secret" not in logged
