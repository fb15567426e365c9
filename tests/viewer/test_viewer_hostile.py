"""``holobench view`` on hostile input: one line, exit 2, nothing half-written, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

from ..test_hostile import Holo, Work, _one_error_line, _with_file_limit, copy_run, holo, leftovers, refused, work

__all__ = ["holo", "work"]  # the fixtures, shared with the hostile campaign


def test_a_bad_port_is_refused_before_any_work(holo: Holo, tmp_path: Path) -> None:
    refused(holo("view", "r", "-o", "v", "--port", "70000"), "--port 70000")
    assert not (tmp_path / "v").exists()


def test_view_onto_its_own_run_keeps_the_run(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    refused(holo("view", run, "-o", run), "nothing there was touched")
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before


def test_a_run_whose_instances_are_gone(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["instances"] = str(tmp_path / "moved" / "instances.jsonl")
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused(holo("view", run, "-o", "v"), str(run), "--instances")
    assert not (tmp_path / "v").exists() and leftovers(tmp_path) == []


def test_a_prediction_for_an_instance_the_file_lacks(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    (run / "manifest.json").unlink()
    with (run / "predictions.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "ghost", "backend": "x", "model": "m", "prompt": "p", "status": "ok"}) + "\n")
    refused(holo("view", run, "--instances", work.instances, "-o", "v"), "ghost", "pass the instances file")
    assert not (tmp_path / "v").exists() and leftovers(tmp_path) == []


def test_instances_whose_source_cannot_be_opened_still_view(holo: Holo, tmp_path: Path, work: Work) -> None:
    """Carrier marks need the instances' database; without it the viewer is written, and says so."""
    lines = work.instances.read_text(encoding="utf-8").splitlines()
    moved = [json.loads(line) | {"source": f"spider:{tmp_path / 'gone'}"} for line in lines]
    instances = tmp_path / "instances.jsonl"
    instances.write_text("".join(json.dumps(r) + "\n" for r in moved), encoding="utf-8")
    run = copy_run(work, tmp_path)
    (run / "manifest.json").unlink()
    result = holo("view", run, "--instances", instances, "-o", "v")
    assert result.code == 0, result.err
    assert result.err.count("warning: the lines that carry each gold row are not marked") == 1
    data = (tmp_path / "v" / "data" / "index.js").read_text(encoding="utf-8")
    assert "not marked" in data and (tmp_path / "v" / "viewer.json").is_file()


def test_disk_full_while_viewing_keeps_the_older_viewer(tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    ok = _with_file_limit(50_000_000, "view", run, "-o", "v", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = (tmp_path / "v" / "data" / "index.js").read_text(encoding="utf-8")
    proc = _with_file_limit(3_000, "view", run, "-o", "v", cwd=tmp_path)
    _one_error_line(proc, "v")
    assert (tmp_path / "v" / "data" / "index.js").read_text(encoding="utf-8") == before
    assert leftovers(tmp_path) == []


def test_an_instance_that_cannot_be_traced_costs_only_its_own_marks(holo: Holo, tmp_path: Path, work: Work) -> None:
    """A gold the engines here do not reproduce (an edited file) is not traced; the rest are."""
    records = [json.loads(line) for line in work.instances.read_text(encoding="utf-8").splitlines()]
    edited = next(r for r in records if r["gold"]["rows"] and r["answerable"] is not False)
    edited["gold"]["rows"][0] = ["tampered" for _ in edited["gold"]["rows"][0]]
    instances = tmp_path / "instances.jsonl"
    instances.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records), encoding="utf-8")
    run = copy_run(work, tmp_path)
    (run / "manifest.json").unlink()
    result = holo("view", run, "--instances", instances, "-o", "v")
    assert result.code == 0, result.err
    assert "warning: 1 instances could not be traced" in result.err and edited["id"] in result.err
    marked = 0
    for path in (tmp_path / "v" / "data" / "i").iterdir():
        text = path.read_text(encoding="utf-8")
        view = json.loads(text[text.index("=") + 1 :].rstrip().rstrip(";"))
        if view["id"] == edited["id"]:
            assert all(c == [] for c in view["carriers"])
        else:
            marked += any(view["carriers"])
    assert marked > 20
