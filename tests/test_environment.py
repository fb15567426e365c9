"""The versions that decide results: what manifests, submissions and the CLI record and show."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path

import duckdb
import sqlglot
from typer.testing import CliRunner

from holobench.backends import BackendOptions
from holobench.cli import app
from holobench.environment import describe, package_version, reference_versions, version_differences, versions
from holobench.runner import RunConfig, Runner
from holobench.scoring import score_match
from holobench.submit import pack, validate
from holobench.tokenizers import tokenizer_fingerprint


def test_versions_name_the_engines_and_the_tokenizer_file() -> None:
    found = versions(tokenizer="o200k_base")
    assert found["packages"]["duckdb"] == duckdb.__version__
    assert found["packages"]["sqlglot"] == sqlglot.__version__
    assert found["tokenizer"]["name"] == "o200k_base" and len(found["tokenizer"]["sha256"]) == 64
    assert package_version("no-such-distribution-here") is None
    assert reference_versions()["sqlite_reference"] == sqlite3.sqlite_version


def test_tokenizer_fingerprint_hashes_the_file(tmp_path: Path) -> None:
    packaged = tokenizer_fingerprint("hf:qwen3")
    assert packaged["file"] == "tokenizer.json"
    from holobench.tokenizers import _packaged_hf_path

    source = _packaged_hf_path("qwen3")
    assert packaged["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert tokenizer_fingerprint("o200k_base")["sha256"] != tokenizer_fingerprint("cl100k_base")["sha256"]


def test_differences_and_description() -> None:
    a = {"holobench": "1", "packages": {"duckdb": "2.0.0", "sqlglot": "30"}, "tokenizer": {"name": "t", "sha256": "a"}}
    b = {"holobench": "1", "packages": {"duckdb": "2.0.1", "sqlglot": "30"}, "tokenizer": {"name": "t", "sha256": "b"}}
    assert version_differences(a, b) == ["packages.duckdb: 2.0.0 != 2.0.1", "tokenizer.sha256: a != b"]
    assert version_differences(a, a) == []
    assert describe(a) == "holobench 1, duckdb 2.0.0, sqlglot 30, tokenizer t (a)"


def test_manifests_carry_versions_from_generation_to_submission(smoke_file: Path, tmp_path: Path) -> None:
    suite_manifest = json.loads((smoke_file.parent / "manifest.json").read_text())
    assert suite_manifest["versions"]["packages"]["duckdb"] == duckdb.__version__
    assert suite_manifest["versions"]["tokenizer"]["name"] == suite_manifest["tokenizer"]

    run_dir = tmp_path / "run"
    cfg = RunConfig(backend="no-answer", options=BackendOptions(), cache_dir=tmp_path / "cache")
    asyncio.run(Runner(smoke_file, run_dir, cfg).run())
    run_manifest = json.loads((run_dir / "manifest.json").read_text())
    assert run_manifest["suite_versions"] == suite_manifest["versions"]
    assert run_manifest["versions"]["holobench"] == suite_manifest["versions"]["holobench"]

    score_match(smoke_file, run_dir)
    summary = json.loads((run_dir / "scores" / "match" / "summary.json").read_text())
    assert summary["versions"]["python"]

    sub = validate(pack(run_dir, run_dir / "scores" / "match", tmp_path / "sub", suite="smoke"), smoke_file)
    assert sub.manifest.versions == {"run": run_manifest["versions"], "suite": suite_manifest["versions"]}
    shown = CliRunner().invoke(app, ["submit", "validate", str(tmp_path / "sub")])
    assert shown.exit_code == 0, shown.output
    assert f"suite versions: holobench {suite_manifest['versions']['holobench']}, duckdb {duckdb.__version__}" in (
        shown.output
    )


def test_versions_command_prints_json() -> None:
    result = CliRunner().invoke(app, ["versions", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["packages"]["duckdb"] == duckdb.__version__
    assert found["sqlite_reference"] == sqlite3.sqlite_version
