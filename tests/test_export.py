"""``holobench export``: a suite as a Hugging Face dataset folder that ``datasets`` loads, a
card that says what it is, and the way back to the very same instances."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from holobench import cli
from holobench.errors import HoloBenchError
from holobench.export import export, instances_file, read_export, write_suite
from holobench.export import hf as hf_module
from holobench.export.schema import COLUMNS, arrow_schema, yaml_features
from holobench.jsonl import read_instances, read_jsonl
from holobench.records import Instance, InstanceConfig, InstanceStats, LineSource, Result, ScoreRecord
from holobench.scoring.score import score_match
from holobench.suite import QuerySelection, generate_suite, load_suite
from tests.scoring_helpers import write_run


@pytest.fixture(scope="module")
def exported(smoke_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "hf"
    export(smoke_file.parent, out, "hf")
    return out


@pytest.fixture(scope="module")
def paper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few paper instances at two lengths, so splits interleave in the suite's order."""
    suite = load_suite("paper").model_copy(
        update={
            "databases": ("store_1",),
            "queries": QuerySelection(ids=("store_1-q001", "store_1-q004")),
            "lengths": (4096, 8192),
            "placements": load_suite("paper").placements[:1],
        }
    )
    out = tmp_path_factory.mktemp("paper-suite")
    generate_suite(suite, out)
    return out


def card(folder: Path) -> tuple[dict[str, Any], str]:
    """The card's YAML front matter (parsed) and its body."""
    _, header, body = (folder / "README.md").read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(header), body


def fail(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one stderr line of a command that must exit 2."""
    monkeypatch.setattr(sys, "argv", ["holobench", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_columns_name_every_field_of_an_instance() -> None:
    origins = {origin for _, origin in COLUMNS.values()}
    nested = {"gold": Result, "config": InstanceConfig, "stats": InstanceStats}
    for name in Instance.model_fields:
        fields = [f"{name}.{f}" for f in nested[name].model_fields] if name in nested else [name]
        assert set(fields) <= origins, fields
    kind, _ = COLUMNS["lines"]
    assert list(kind[0]) == list(LineSource.model_fields)


def test_load_dataset_reads_every_split_with_typed_features(exported: Path, smoke_file: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(exported), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["len_1024"]
    assert loaded["len_1024"].num_rows == sum(1 for _ in read_instances(smoke_file))
    features = loaded["len_1024"].features
    assert features == datasets.Features.from_arrow_schema(arrow_schema())
    assert features["categories"] == datasets.List(datasets.Value("string"))
    assert features["lines"].feature["row"] == datasets.Value("int64")
    assert features["info_density"] == datasets.Value("float64")
    first = loaded["len_1024"][0]
    original = next(read_instances(smoke_file))
    assert first["id"] == original.id and first["target_tokens"] == 1024
    assert [json.loads(r) for r in first["gold_rows"]] == original.gold.rows


def test_card_names_the_splits_features_licences_and_suite(exported: Path, smoke_file: Path) -> None:
    header, body = card(exported)
    suite = json.loads((smoke_file.parent / "manifest.json").read_text(encoding="utf-8"))
    assert header["configs"][0]["data_files"] == [{"split": "len_1024", "path": "data/len_1024-*.parquet"}]
    assert header["dataset_info"]["features"] == yaml_features()
    assert header["dataset_info"]["splits"][0]["num_examples"] == suite["instances"]
    assert header["license"] == ["cc-by-sa-3.0", "cc0-1.0", "mit"]
    assert suite["suite_hash"] in body and "2410.11996" in body and "@inproceedings" in body
    assert "CC BY-SA 3.0" in body and "duckdb" in body


def test_round_trip_gives_the_same_instances_and_bytes(exported: Path, smoke_file: Path, tmp_path: Path) -> None:
    assert list(read_export(exported)) == list(read_instances(smoke_file))
    assert write_suite(exported, tmp_path / "back")
    assert (tmp_path / "back" / "instances.jsonl").read_bytes() == smoke_file.read_bytes()
    manifest = json.loads((smoke_file.parent / "manifest.json").read_text(encoding="utf-8"))
    assert json.loads((tmp_path / "back" / "manifest.json").read_text(encoding="utf-8")) == manifest


def test_paper_instances_split_by_length_and_merge_back_in_order(paper_dir: Path, tmp_path: Path) -> None:
    written = hf_module.export_hf(paper_dir, tmp_path / "hf")
    assert list(written.splits) == ["len_4096", "len_8192"]
    assert {s.rows for s in written.splits.values()} == {4}
    original = paper_dir / "instances.jsonl"
    assert list(read_export(tmp_path / "hf")) == list(read_instances(original))
    assert write_suite(tmp_path / "hf", tmp_path / "back")
    assert (tmp_path / "back" / "instances.jsonl").read_bytes() == original.read_bytes()


def test_large_splits_are_sharded_and_still_load(
    smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_module, "SHARD_BYTES", 40_000)
    written = hf_module.export_hf(smoke_file.parent, tmp_path / "hf")
    files = written.splits["len_1024"].files
    assert len(files) > 2 and files[-1].endswith(f"-of-{len(files):05d}.parquet")
    assert list(read_export(tmp_path / "hf")) == list(read_instances(smoke_file))
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(tmp_path / "hf"), cache_dir=str(tmp_path / "cache"), split="len_1024")
    assert loaded["suite_index"] == list(range(loaded.num_rows))


def test_scores_against_the_export_equal_scores_against_the_suite(
    exported: Path, smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path, smoke_file)
    score_match(smoke_file, run, tmp_path / "direct")
    with instances_file(exported) as path:
        score_match(path, run, tmp_path / "via-api")
    command = ["holobench", "score", "--instances", str(exported), "--predictions", str(run)]
    monkeypatch.setattr(sys, "argv", [*command, "-o", str(tmp_path / "via-cli")])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 0

    def records(folder: Path) -> list[ScoreRecord]:
        return list(read_jsonl(folder / "scores.jsonl", ScoreRecord, record="", file="", records=""))

    assert records(tmp_path / "via-api") == records(tmp_path / "direct")
    assert records(tmp_path / "via-cli") == records(tmp_path / "direct")


def test_refuses_a_folder_without_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = fail(monkeypatch, capsys, "export", str(tmp_path), "-o", str(tmp_path / "out"))
    assert "no instances.jsonl" in line
    assert not (tmp_path / "out").exists()


def test_refuses_to_write_over_a_folder_that_is_not_an_export(
    smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "notes"
    target.mkdir()
    (target / "thesis.tex").write_text("keep me", encoding="utf-8")
    line = fail(monkeypatch, capsys, "export", str(smoke_file.parent), "-o", str(target))
    assert "not a holobench dataset export" in line
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    assert (target / "thesis.tex").read_text(encoding="utf-8") == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]  # no staging folder left behind


def test_refuses_an_unknown_format_and_a_suite_as_an_export(
    smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = fail(monkeypatch, capsys, "export", str(smoke_file.parent), "--format", "csv", "-o", str(tmp_path / "x"))
    assert "--format 'csv': unknown; choose one of hf, jsonl" in line
    line = fail(monkeypatch, capsys, "export", str(smoke_file.parent), "--format", "jsonl", "-o", str(tmp_path / "x"))
    assert "no holobench-export.json" in line
    assert not (tmp_path / "x").exists()


def test_an_export_written_again_replaces_the_former_one(exported: Path, smoke_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    export(smoke_file.parent, out, "hf")
    (out / "data" / "stale.parquet").write_bytes(b"old")
    export(smoke_file.parent, out, "hf")
    assert sorted(p.name for p in (out / "data").iterdir()) == ["len_1024-00000-of-00001.parquet"]
    with pytest.raises(HoloBenchError, match=r"no holobench-export\.json"):
        list(read_export(smoke_file.parent))
