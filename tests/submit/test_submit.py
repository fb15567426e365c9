"""Leaderboard submissions: pack -> validate round trips, hostile archives, and content checks."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from holobench import submit
from holobench._version import __version__
from holobench.backends import SamplingParams
from holobench.jsonl import file_hash
from holobench.records import Category, Label, Placement, Prediction, ScoreRecord, Usage
from holobench.submit import SubmissionError, pack, validate
from holobench.submit import archive as submit_archive
from holobench.submit import packing as submit_packing

IDS = ("store_1-q001-a", "store_1-q004-b", "nycflights-q003-c")
MODEL = "gpt-4o-mini-2024-07-18"
SECRET = "sk-holobench-test-SECRET-0123456789"


# ------------------------------------------------------------------------------------------ builders


@dataclass
class Workspace:
    root: Path
    instances: Path
    run: Path
    scores: Path
    report: Path


def _prediction(iid: str, status: str = "ok") -> Prediction:
    return Prediction(
        id=iid,
        backend="openai",
        model=MODEL,
        prompt="cot",
        status=status,  # type: ignore[arg-type]
        response='[["Alice", 3]]' if status == "ok" else None,
        usage=Usage(prompt_tokens=2048, completion_tokens=40),
        latency_s=1.25,
        attempts=1,
        finish_reason="stop" if status == "ok" else None,
        error="server_error: 500" if status == "error" else None,
    )


def _score(iid: str, scorer: str = "exact-v1") -> ScoreRecord:
    return ScoreRecord(
        id=iid,
        query_id=iid.rsplit("-", 1)[0],
        db_id=iid.split("-", 1)[0],
        categories=(Category.AGGREGATION,),
        target_tokens=2000,
        setting="amount",
        level=1000,
        placement=Placement.MIDDLE,
        backend="openai",
        model=MODEL,
        prompt="cot",
        scorer=scorer,
        status="scored",
        gold_rows=2,
        labels=[Label.EXACT, Label.PARTIAL],
        score=0.75,
        precision=1.0,
        answer_items=1,
        answer='[["Alice", 3]]',
    )


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _make_workspace(root: Path, backend_extra: dict[str, object] | None = None) -> Workspace:
    instances = root / "suite" / "instances.jsonl"
    _write_jsonl(
        instances, [json.dumps({"id": iid, "db_id": iid.split("-")[0], "question": "How many?"}) for iid in IDS]
    )
    run = root / "run"
    manifest = {
        "instances": str(instances),
        "instances_sha256": file_hash(instances),
        "backend": {
            "backend": "openai",
            "model": MODEL,
            "base_url": "https://api.openai.com/v1",
            **(backend_extra or {}),
        },
        "prompt": "cot@0123abcd",
        "sampling": SamplingParams().model_dump(),
        "shard": None,
        "holobench_version": __version__,
    }
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    # a resumed run: the first id failed once, then succeeded; the journal's newest record wins
    journal = [_prediction(IDS[0], "error"), *(_prediction(iid) for iid in IDS)]
    _write_jsonl(run / "predictions.jsonl", [p.model_dump_json() for p in journal])
    scores = root / "scores"
    _write_jsonl(scores / "scores.jsonl", [_score(iid).model_dump_json() for iid in IDS])
    (scores / "summary.json").write_text(json.dumps({"scorer": "exact-v1", "mean_score": 0.75}), encoding="utf-8")
    report = root / "report-src"
    report.mkdir()
    (report / "accuracy.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (report / "table.csv").write_text("model,score\ngpt,0.75\n", encoding="utf-8")
    return Workspace(root, instances, run, scores, report)


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return _make_workspace(tmp_path / "ws")


@pytest.fixture()
def packed(ws: Workspace) -> Path:
    """A valid folder submission to copy into archives or to break on purpose."""
    return pack(ws.run, ws.scores, ws.root / "sub", suite="smoke", report_dir=ws.report)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Extraction goes under tmp_path/scratch, and must be gone afterwards."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert list(folder.iterdir()) == [], "the extraction folder was not cleaned up"


@pytest.fixture()
def sandbox(tmp_path: Path, scratch: Path) -> Iterator[Path]:
    """For hostile archives (built in the folder this yields): no new file may appear anywhere else."""
    archives = tmp_path / "archives"
    archives.mkdir()
    outside = Path("/tmp/evil.txt")  # where the absolute-path members aim

    def snapshot() -> set[str]:
        return _files(tmp_path) | ({str(outside)} if outside.exists() else set())

    before = snapshot()
    yield archives
    after = snapshot()
    created = {f for f in after - before if not f.startswith("archives/")}
    assert created == set(), f"written outside the extraction folder: {sorted(created)}"


def _reject(path: Path, *needles: str, instances: Path | None = None) -> str:
    with pytest.raises(SubmissionError) as info:
        validate(path, instances)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


# ------------------------------------------------------------------------------------- archives


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _tar(path: Path, base: Path | None, extra: Callable[[tarfile.TarFile], None]) -> Path:
    """A .tar.gz of a valid submission folder (when given) plus hostile members."""
    with tarfile.open(path, "w:gz") as tf:
        if base is not None:
            for name in sorted(_files(base)):
                if (base / name).is_file():
                    _tar_add(tf, name, (base / name).read_bytes())
        extra(tf)
    return path


def _zip(path: Path, base: Path | None, extra: Callable[[zipfile.ZipFile], None]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if base is not None:
            for name in sorted(_files(base)):
                if (base / name).is_file():
                    zf.writestr(name, (base / name).read_bytes())
        extra(zf)
    return path


# --------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["sub", "sub.tar.gz", "sub.tgz", "sub.zip"])
def test_pack_validate_round_trip(ws: Workspace, scratch: Path, name: str) -> None:
    out = pack(ws.run, ws.scores, ws.root / "out" / name, suite="smoke", notes="zero-shot", report_dir=ws.report)
    assert out == ws.root / "out" / name
    assert out.is_dir() == (name == "sub")
    sub = validate(out, ws.instances)
    m = sub.manifest
    assert (m.suite, m.model, m.backend, m.label, m.scorer, m.notes) == (
        "smoke",
        MODEL,
        "openai",
        MODEL,
        "exact-v1",
        "zero-shot",
    )
    assert m.n_instances == 3 and m.instances_sha256 == file_hash(ws.instances)
    assert m.prompt == "cot@0123abcd" and m.holobench_version == __version__
    assert m.backend_settings["base_url"] == "https://api.openai.com/v1"
    assert m.backend_settings["sampling"]["temperature"] == 0.0
    assert m.created.endswith("Z")
    assert sorted(p.id for p in sub.predictions) == sorted(IDS)
    assert all(p.status == "ok" for p in sub.predictions), "the journal's newest record per id is packed"
    assert [s.id for s in sub.scores] == sorted(IDS)
    assert sub.report == ["accuracy.png", "table.csv"]
    assert sub.source == out
    assert sorted(os.listdir(ws.root / "out")) == [name], "no temporary files are left next to the output"


def test_label_and_archive_layout(ws: Workspace) -> None:
    out = pack(ws.run, ws.scores, ws.root / "sub.zip", suite="smoke", label="GPT-4o mini (CoT)")
    assert validate(out).manifest.label == "GPT-4o mini (CoT)"
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["manifest.json", "predictions.jsonl", "scores.jsonl"]


def test_tar_made_with_dot_prefix_is_accepted(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    """`tar czf sub.tgz -C sub .` writes ./name members and a ./ folder entry."""
    path = sandbox / "dot.tgz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(packed, arcname=".")
    assert validate(path).report == ["accuracy.png", "table.csv"]


# ---------------------------------------------------------------------------- hostile archives


def test_absolute_member_path(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    target = tmp_path / "abs-evil.txt"
    path = _tar(sandbox / "abs.tar.gz", packed, lambda tf: _tar_add(tf, str(target), b"pwned"))
    _reject(path, "absolute path", "abs-evil.txt")
    assert not target.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "report/../../evil.txt", "../../../../../../tmp/evil.txt"])
def test_traversal_member(packed: Path, tmp_path: Path, sandbox: Path, name: str) -> None:
    path = _tar(sandbox / "dots.tar.gz", packed, lambda tf: _tar_add(tf, name, b"pwned"))
    _reject(path, "'..' path component", "dots.tar.gz")
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    path = _tar(
        sandbox / "link.tar.gz",
        packed,
        lambda tf: _tar_add(tf, "report/notes.md", kind=tarfile.SYMTYPE, link="/etc/passwd"),
    )
    _reject(path, "'report/notes.md' is a symlink")


def test_hardlink_member(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    path = _tar(
        sandbox / "hard.tar.gz",
        packed,
        lambda tf: _tar_add(tf, "report/notes.md", kind=tarfile.LNKTYPE, link="/etc/passwd"),
    )
    _reject(path, "is a hard link")


def test_fifo_member(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    path = _tar(sandbox / "fifo.tar.gz", packed, lambda tf: _tar_add(tf, "report/pipe.md", kind=tarfile.FIFOTYPE))
    _reject(path, "device or fifo")


def test_zip_symlink_entry(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    def extra(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("report/notes.md")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")

    _reject(_zip(sandbox / "link.zip", packed, extra), "'report/notes.md' is a symlink")


@pytest.mark.parametrize(("name", "needle"), [("../evil.txt", "'..'"), ("/tmp/evil.txt", "absolute path")])
def test_zip_unsafe_paths(packed: Path, tmp_path: Path, sandbox: Path, name: str, needle: str) -> None:
    _reject(_zip(sandbox / "bad.zip", packed, lambda zf: zf.writestr(name, "pwned")), needle)
    assert not (tmp_path / "evil.txt").exists()


def test_duplicate_member(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    manifest = json.loads((packed / "manifest.json").read_text())
    manifest["label"] = "smuggled"
    path = _tar(sandbox / "dup.tar.gz", packed, lambda tf: _tar_add(tf, "manifest.json", json.dumps(manifest).encode()))
    _reject(path, "duplicate member(s) 'manifest.json'")


@pytest.mark.parametrize("name", ["run.sh", "report/model.bin", "report/sub/fig.png", "sub/manifest.json"])
def test_unexpected_file(packed: Path, tmp_path: Path, sandbox: Path, name: str) -> None:
    path = _zip(sandbox / "extra.zip", packed, lambda zf: zf.writestr(name, "x"))
    _reject(path, f"unexpected file {name!r}", "remove it")


def test_missing_required_file(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    (packed / "scores.jsonl").unlink()
    _reject(_zip(sandbox / "short.zip", packed, lambda zf: None), "scores.jsonl is missing")


def test_too_many_members(packed: Path, tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit_archive, "MAX_MEMBERS", 8)

    def extra_tar(tf: tarfile.TarFile) -> None:
        for i in range(10):
            _tar_add(tf, f"report/page{i}.md", b"# page")

    def extra_zip(zf: zipfile.ZipFile) -> None:
        for i in range(10):
            zf.writestr(f"report/page{i}.md", "# page")

    _reject(_tar(sandbox / "many.tar.gz", packed, extra_tar), "more than 8 members")
    _reject(_zip(sandbox / "many.zip", packed, extra_zip), "more than the 8 allowed")


def test_oversize_member(packed: Path, tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit_archive, "MAX_MEMBER_BYTES", 10_000)
    big = os.urandom(20_000)  # incompressible: the size limit fires, not the ratio check
    _reject(_zip(sandbox / "big.zip", packed, lambda zf: zf.writestr("report/big.csv", big)), "10,000-byte limit")
    _reject(_tar(sandbox / "big.tgz", packed, lambda tf: _tar_add(tf, "report/big.csv", big)), "10,000-byte limit")


def test_total_size(packed: Path, tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _zip(sandbox / "total.zip", packed, lambda zf: zf.writestr("report/big.csv", os.urandom(60_000)))
    monkeypatch.setattr(submit_archive, "MAX_TOTAL_BYTES", path.stat().st_size + 1000)  # archive fits, contents do not
    monkeypatch.setattr(submit_archive, "MAX_MEMBER_BYTES", 10**9)
    _reject(path, "uncompressed, over the")


def test_zip_bomb(packed: Path, tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit_archive, "RATIO_MIN_BYTES", 4096)
    zeros = bytes(2**20)  # ~1000x compressible
    _reject(_zip(sandbox / "bomb.zip", packed, lambda zf: zf.writestr("report/bomb.csv", zeros)), "zip bomb")
    _reject(_tar(sandbox / "bomb.tgz", None, lambda tf: _tar_add(tf, "report/bomb.csv", zeros)), "zip bomb")


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers of a .tar.gz are read in a capped stream: a bomb is never fully decompressed."""
    monkeypatch.setattr(submit_archive, "MAX_TOTAL_BYTES", 10_000)
    monkeypatch.setattr(submit_archive, "MAX_MEMBERS", 4)
    path = _tar(sandbox / "bomb.tgz", None, lambda tf: _tar_add(tf, "report/bomb.csv", bytes(8 * 2**20)))
    _reject(path, "decompresses to more than")


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "sub.rar").write_bytes(b"Rar!")
    _reject(tmp_path / "sub.rar", "not a submission folder")
    (tmp_path / "sub.zip").write_bytes(b"garbage")
    _reject(tmp_path / "sub.zip", "not a readable .zip")
    (tmp_path / "sub.tar.gz").write_bytes(b"garbage")
    _reject(tmp_path / "sub.tar.gz", "not a readable .tar.gz")


def test_folder_submission_rejects_symlinks(packed: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("secret notes")
    (packed / "report" / "notes.md").symlink_to(tmp_path / "outside.md")
    _reject(packed, "'report/notes.md' is a symlink")


def test_content_problems_clean_up_the_extraction(packed: Path, tmp_path: Path, sandbox: Path) -> None:
    """A safe archive with bad content is extracted, reported, and its scratch folder removed."""
    _write_jsonl(packed / "predictions.jsonl", ["{not json"])
    _reject(_zip(sandbox / "bad.zip", packed, lambda zf: None), "predictions.jsonl:1")


# ------------------------------------------------------------------------------- content checks


def _edit_manifest(sub: Path, **changes: object) -> None:
    data = json.loads((sub / "manifest.json").read_text())
    data.update(changes)
    (sub / "manifest.json").write_text(json.dumps(data))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_missing_instance(packed: Path, ws: Workspace) -> None:
    for name in ("predictions.jsonl", "scores.jsonl"):
        _write_jsonl(packed / name, [line for line in _lines(packed / name) if IDS[1] not in line])
    _edit_manifest(packed, n_instances=2)
    assert validate(packed).manifest.n_instances == 2  # consistent on its own ...
    _reject(packed, "1 instance(s) of the suite missing", repr(IDS[1]), instances=ws.instances)  # ... not the suite


def test_duplicated_instance(packed: Path, ws: Workspace) -> None:
    lines = _lines(packed / "predictions.jsonl")
    _write_jsonl(packed / "predictions.jsonl", [*lines, lines[0]])
    _reject(packed, "predictions.jsonl: duplicate id(s)", "n_instances is 3", instances=ws.instances)


def test_extra_instance(packed: Path, ws: Workspace) -> None:
    _write_jsonl(
        packed / "predictions.jsonl", [*_lines(packed / "predictions.jsonl"), _prediction("ghost-q9").model_dump_json()]
    )
    _write_jsonl(packed / "scores.jsonl", [*_lines(packed / "scores.jsonl"), _score("ghost-q9").model_dump_json()])
    _edit_manifest(packed, n_instances=4)
    _reject(packed, "not in the suite", "'ghost-q9'", instances=ws.instances)


def test_wrong_suite_hash(packed: Path, ws: Workspace, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text(ws.instances.read_text() + "\n")  # same ids, different bytes
    _reject(packed, "differs from the submission's instances_sha256", instances=other)


def test_mismatched_scorer(packed: Path) -> None:
    lines = _lines(packed / "scores.jsonl")
    lines[1] = _score(json.loads(lines[1])["id"], scorer="llm-judge").model_dump_json()
    _write_jsonl(packed / "scores.jsonl", lines)
    _reject(packed, "scores.jsonl: 1 record(s) from scorer(s) 'llm-judge'", "'exact-v1'")


def test_mismatched_model(packed: Path) -> None:
    lines = _lines(packed / "predictions.jsonl")
    other = _prediction(json.loads(lines[0])["id"]).model_copy(update={"model": "other-model"})
    _write_jsonl(packed / "predictions.jsonl", [other.model_dump_json(), *lines[1:]])
    _reject(packed, "model 'other-model'")


@pytest.mark.parametrize("key", ["api_key", "OPENAI_API_KEY", "hf_token", "Authorization", "password", "client_secret"])
def test_secret_setting_name(packed: Path, key: str) -> None:
    data = json.loads((packed / "manifest.json").read_text())
    data["backend_settings"]["inner"] = {key: "redacted"}
    (packed / "manifest.json").write_text(json.dumps(data))
    _reject(packed, f"backend_settings.inner.{key}", "secret-bearing setting", "rotate the key")


@pytest.mark.parametrize("field", ["notes", "label", "base_url"])
def test_secret_value(packed: Path, field: str) -> None:
    data = json.loads((packed / "manifest.json").read_text())
    if field == "base_url":
        data["backend_settings"]["base_url"] = f"https://proxy.example/v1?key={SECRET}"
    else:
        data[field] = f"run with {SECRET}"
    (packed / "manifest.json").write_text(json.dumps(data))
    message = _reject(packed, "looks like a secret key")
    assert SECRET not in message, "the message must not repeat the secret"


def test_secret_key_heuristic() -> None:
    flagged = ["api_key", "x-api-key", "token", "access_token", "HF_TOKEN", "secret", "authorization", "db_password"]
    benign = ["max_tokens", "token_pattern", "tokenizer", "window_tokens", "eos_token", "base_url", "model"]
    assert [k for k in flagged if not submit._secret_key(k)] == []
    assert [k for k in benign if submit._secret_key(k)] == []


def test_malformed_jsonl_lines(packed: Path) -> None:
    lines = _lines(packed / "predictions.jsonl")
    lines[1] = lines[1][:-10]  # truncated record
    _write_jsonl(packed / "predictions.jsonl", lines)
    score_lines = _lines(packed / "scores.jsonl")
    bad = json.loads(score_lines[2])
    bad["status"] = "great"
    score_lines[2] = json.dumps(bad)
    _write_jsonl(packed / "scores.jsonl", score_lines)
    _reject(packed, "predictions.jsonl:2: not a valid prediction", "scores.jsonl:3: not a valid score record (status")


def test_manifest_schema(packed: Path) -> None:
    _edit_manifest(packed, created="2025-01-31T12:00:00+02:00", format_version=2, surprise=True)
    _reject(packed, "field format_version", "field created", "field surprise")


def test_many_problems_stay_on_one_line(packed: Path) -> None:
    _write_jsonl(packed / "scores.jsonl", ["{"] * 50)
    message = _reject(packed, "scores.jsonl:1", "more problem(s)")
    assert "scores.jsonl:40" not in message


# ---------------------------------------------------------------------------------- failed packs


def test_pack_refuses_id_mismatch(ws: Workspace) -> None:
    _write_jsonl(ws.scores / "scores.jsonl", [_score(iid).model_dump_json() for iid in IDS[:2]])
    with pytest.raises(SubmissionError, match="disagree on ids: no score for 'nycflights-q003-c'"):
        pack(ws.run, ws.scores, ws.root / "out.zip", suite="smoke")
    assert not (ws.root / "out.zip").exists()


def test_pack_refuses_several_scorers(ws: Workspace) -> None:
    _write_jsonl(
        ws.scores / "scores.jsonl", [_score(iid, scorer=f"s{i % 2}").model_dump_json() for i, iid in enumerate(IDS)]
    )
    with pytest.raises(SubmissionError, match="several scorers"):
        pack(ws.run, ws.scores, ws.root / "out", suite="smoke")
    assert not (ws.root / "out").exists()


def test_pack_refuses_a_shard_and_an_existing_output(ws: Workspace) -> None:
    (ws.root / "taken").mkdir()
    with pytest.raises(SubmissionError, match="already exists"):
        pack(ws.run, ws.scores, ws.root / "taken", suite="smoke")
    manifest = json.loads((ws.run / "manifest.json").read_text())
    (ws.run / "manifest.json").write_text(json.dumps({**manifest, "shard": [0, 2]}))
    with pytest.raises(SubmissionError, match="merge all shards"):
        pack(ws.run, ws.scores, ws.root / "out", suite="smoke")


@pytest.mark.parametrize("name", ["out", "out.tar.gz", "out.zip"])
def test_failed_pack_leaves_nothing(tmp_path: Path, name: str) -> None:
    """A secret in the run's settings is caught by the staged validation: no output, no temp files."""
    ws = _make_workspace(tmp_path / "ws", backend_extra={"api_key": SECRET})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(SubmissionError) as info:
        pack(ws.run, ws.scores, dest / name, suite="smoke", report_dir=ws.report)
    assert "backend_settings.api_key" in str(info.value) and SECRET not in str(info.value)
    assert str(dest / name) in str(info.value)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("name", ["out.tar.gz", "out.zip"])
def test_pack_interrupted_mid_archive(ws: Workspace, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def broken(root: Path, names: list[str], dest: Path, *_: object) -> None:
        dest.write_bytes(b"half an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(submit_packing, "_write_tar", broken)
    monkeypatch.setattr(submit_packing, "_write_zip", broken)
    dest = ws.root / "dest"
    dest.mkdir()
    with pytest.raises(OSError, match="No space"):
        pack(ws.run, ws.scores, dest / name, suite="smoke")
    assert list(dest.iterdir()) == []


def test_pack_rejects_bad_report_files(ws: Workspace) -> None:
    (ws.report / "run.sh").write_text("rm -rf /")
    with pytest.raises(SubmissionError, match="report files must end in"):
        pack(ws.run, ws.scores, ws.root / "out", suite="smoke", report_dir=ws.report)
    assert not (ws.root / "out").exists()
