"""Recomputing gold with the engines installed here: agreement, a tampered answer, the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from holobench.cli import app
from holobench.errors import HoloBenchError
from holobench.verify import verify_gold


def _tampered(smoke_file: Path, tmp_path: Path) -> tuple[Path, str]:
    lines = smoke_file.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[3])
    record["gold"]["rows"] = [[123456789]]
    lines[3] = json.dumps(record)
    out = tmp_path / "suite" / "instances.jsonl"
    out.parent.mkdir()
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out, record["id"]


def test_every_stored_gold_is_reproduced(smoke_file: Path) -> None:
    check = verify_gold(smoke_file.parent)
    assert check.ok and check.instances == check.agree == 36
    assert check.versions["packages"]["duckdb"]  # type: ignore[index]
    result = CliRunner().invoke(app, ["suite", "verify", str(smoke_file)])
    assert result.exit_code == 0 and "all 36 gold answers recomputed and equal" in result.output


def test_a_changed_gold_answer_is_found(smoke_file: Path, tmp_path: Path) -> None:
    tampered, changed = _tampered(smoke_file, tmp_path)
    check = verify_gold(tampered)
    assert not check.ok and check.differ == [changed] and check.agree == 35
    result = CliRunner().invoke(app, ["suite", "verify", str(tampered)])
    assert result.exit_code == 1


def test_leaderboard_refuses_a_suite_whose_gold_the_engines_here_do_not_reproduce(
    smoke_file: Path, tmp_path: Path
) -> None:
    from holobench.leaderboard import build

    tampered, changed = _tampered(smoke_file, tmp_path)
    with pytest.raises(HoloBenchError, match=f"1 of 36 gold answers differ.*{changed}"):
        build([tmp_path / "no-submission-is-read-first"], tmp_path / "site", instances=tampered)


def test_the_refusal_names_the_versions_that_differ(smoke_file: Path, tmp_path: Path) -> None:
    from holobench.leaderboard import build

    tampered, _ = _tampered(smoke_file, tmp_path)
    manifest = json.loads((smoke_file.parent / "manifest.json").read_text(encoding="utf-8"))
    manifest["versions"]["packages"]["duckdb"] = "1.0.0"
    (tampered.parent / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(HoloBenchError, match=r"generated with other versions \(packages\.duckdb: 1\.0\.0 != "):
        build([tmp_path / "unread"], tmp_path / "site", instances=tampered)
