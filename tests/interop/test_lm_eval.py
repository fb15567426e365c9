"""``holobench export --format lm-eval``: a task folder that lm-evaluation-harness loads with
``--include_path``, whose documents, prompts and ``match`` metric are holobench's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from holobench import cli
from holobench.errors import HoloBenchError
from holobench.export import export
from holobench.interop.lm_eval import doc_to_target, doc_to_text, process_results, task_dataset
from holobench.interop.replies import prediction_of
from holobench.prompts import render_prompt
from holobench.records import Instance
from holobench.scoring.score import match_record
from tests.interop.conftest import reply_for

TASK = "holobench_smoke"


def exit_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one stderr line of a command that must exit 2."""
    monkeypatch.setattr(sys, "argv", ["holobench", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def task_folder(tiny_suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lm-eval") / "task"
    export(tiny_suite, out, "lm-eval")
    return out


def test_the_folder_holds_the_suite_byte_for_byte(task_folder: Path, tiny_suite: Path) -> None:
    assert sorted(p.name for p in task_folder.iterdir()) == ["holobench_smoke.yaml", "instances.jsonl", "utils.py"]
    assert (task_folder / "instances.jsonl").read_bytes() == (tiny_suite / "instances.jsonl").read_bytes()


def test_lm_eval_loads_the_task_from_the_include_path(task_folder: Path, tiny_instances: list[Instance]) -> None:
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(task_folder))
    assert TASK in manager.all_tasks
    task = manager.load([TASK])["tasks"][TASK]
    docs = list(task.test_docs())
    assert [d["id"] for d in docs] == [i.id for i in tiny_instances]
    for doc, instance in zip(docs, tiny_instances, strict=True):
        assert task.doc_to_text(doc) == render_prompt("cot", instance.context, instance.question)
    assert task.config.generation_kwargs["until"] == []  # a multi-line answer is never cut at a blank line
    reply = reply_for(tiny_instances[0], 0)
    assert task.process_results(docs[0], [reply]) == process_results(docs[0], [reply])


def test_process_results_is_holobench_match(tiny_suite: Path, tiny_instances: list[Instance]) -> None:
    pytest.importorskip("datasets")
    docs = task_dataset(tiny_suite / "instances.jsonl", prompt="structured")["test"]
    seen = set()
    for index, (doc, instance) in enumerate(zip(docs, tiny_instances, strict=True)):
        assert doc_to_text(doc) == render_prompt("structured", instance.context, instance.question)
        assert doc_to_target(doc).startswith("- ") or doc_to_target(doc) == "none"
        reply = reply_for(instance, index)
        record = match_record(instance, prediction_of(instance, reply, backend="x", model="x", prompt="structured"))
        assert process_results(doc, [reply]) == {"match": record.score}
        seen.add(record.score)
    assert len(seen) > 1


def test_a_prompt_lm_eval_cannot_send_is_refused(tiny_suite: Path) -> None:
    pytest.importorskip("datasets")
    with pytest.raises(HoloBenchError, match="prompt='fewshot' in the task's metadata"):
        task_dataset(tiny_suite / "instances.jsonl", prompt="fewshot")


def test_an_hf_export_exports_again_under_its_suite_name(tiny_suite: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    export(tiny_suite, tmp_path / "hf", "hf")
    message = export(tmp_path / "hf", tmp_path / "lm", "lm-eval")
    assert f"--tasks {TASK}" in message
    assert (tmp_path / "lm" / "instances.jsonl").read_bytes() == (tiny_suite / "instances.jsonl").read_bytes()
    header = (tmp_path / "lm" / f"{TASK}.yaml").read_text(encoding="utf-8")
    assert f"task: {TASK}\n" in header and "custom_dataset: !function utils.load\n" in header


def test_cli_writes_the_folder(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sys, "argv", ["holobench", "export", str(tiny_suite), "-o", str(tmp_path / "t"), "--format", "lm-eval"]
    )
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 0
    assert f"lm_eval --include_path {tmp_path / 't'} --tasks {TASK}" in capsys.readouterr().out.replace("\n", "")
    metadata = (tmp_path / "t" / f"{TASK}.yaml").read_text(encoding="utf-8").split("metadata:\n")[1]
    assert (
        json.loads(metadata.split("instances_sha256: ")[1].splitlines()[0])
        == json.loads((tiny_suite / "manifest.json").read_text(encoding="utf-8"))["files"]["instances.jsonl"]["sha256"]
    )


def test_bad_sources_exit_2_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    line = exit_line(
        monkeypatch, capsys, "export", str(tmp_path / "empty"), "-o", str(tmp_path / "a"), "--format", "lm-eval"
    )
    assert "no instances.jsonl; give a suite folder" in line and str(tmp_path / "empty") in line
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "instances.jsonl").write_text("\n", encoding="utf-8")
    line = exit_line(
        monkeypatch, capsys, "export", str(tmp_path / "blank"), "-o", str(tmp_path / "b"), "--format", "lm-eval"
    )
    assert "holds no instances; nothing to export" in line
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    line = exit_line(
        monkeypatch, capsys, "export", str(tmp_path / "blank"), "-o", str(tmp_path / "other"), "--format", "lm-eval"
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert (tmp_path / "other" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_metadata_chooses_another_prompt(task_folder: Path, tiny_instances: list[Instance]) -> None:
    """``lm_eval --metadata '{"prompt": "structured"}'`` reaches the dataset (lm-eval merges it over the YAML's)."""
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(task_folder), metadata={"prompt": "structured"})
    task = manager.load([TASK])["tasks"][TASK]
    doc = next(iter(task.test_docs()))
    instance = tiny_instances[0]
    assert task.doc_to_text(doc) == render_prompt("structured", instance.context, instance.question)
