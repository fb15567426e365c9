"""Hostile input, end to end through the command line: every case checks the exit code, the
one-line error contract (``error: <file>: <item>: <what and how to fix>``), and that nothing
partial and no secret is left on disk.

Groups: option values, output paths, file-system faults midway, secrets, submitted scores, limits,
sandboxed templates, loaders, and weak spots (merge, agreement, plain selections, endpoints).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from holobench import cli
from holobench.testing.fake_server import FakeOpenAIServer, Fault, ServerState

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-hostile0KEY"  # short on purpose: short keys must be caught too


@dataclass
class Outcome:
    code: int
    out: str
    err: str


Holo = Callable[..., Outcome]


@pytest.fixture()
def holo(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Holo:
    """``holobench ARGS`` in-process through ``cli.main`` (the real entry point), in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.out, "_width", 400)

    def call(*args: object) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["holobench", *map(str, args)])
        with pytest.raises(SystemExit) as info:
            cli.main()
        captured = capsys.readouterr()
        code = info.value.code
        return Outcome(0 if code is None else int(code), captured.out, captured.err)

    return call


def refused(result: Outcome, *needles: str, up_front: bool = True) -> str:
    """Exit 2 and one ``error:`` line naming what is wrong; with ``up_front``, nothing else on stderr."""
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.err
    assert "Traceback" not in result.err
    if up_front:
        assert len(lines) == 1, result.err
    message = lines[-1]
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def leftovers(root: Path) -> list[str]:
    """Half-written files: temporary names, staging folders, archive parts."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith((".tmp", ".part")) or (p.is_dir() and p.name.startswith(".") and p.name != ".cache")
    )


def secrets_on_disk(root: Path, secret: str = SECRET) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()
    )


@dataclass(frozen=True)
class Work:
    """A generated smoke suite, a no-answer run of it, and that run's match scores."""

    instances: Path
    run: Path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, smoke_file: Path) -> Work:
    from holobench.backends import BackendOptions
    from holobench.runner import RunConfig, Runner
    from holobench.scoring.score import score_match

    root = tmp_path_factory.mktemp("hostile-work")
    run = root / "run"
    import asyncio

    config = RunConfig(backend="no-answer", options=BackendOptions(), cache_dir=None)
    asyncio.run(Runner(smoke_file, run, config).run())
    score_match(smoke_file, run, run / "scores" / "match")
    return Work(instances=smoke_file, run=run)


def copy_run(work: Work, where: Path) -> Path:
    target = where / "run"
    shutil.copytree(work.run, target)
    (target / ".lock").unlink(missing_ok=True)
    return target


def write_jsonl(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# =========================================================================== option values

ADHOC = ["--db", "store_1", "--sql", "SELECT 1", "--question", "q", "-o", "x.jsonl"]
BAD_OPTIONS = [
    (["generate", *ADHOC, "--density", "nan"], "--density nan"),
    (["generate", *ADHOC, "--density", "1.5"], "--density 1.5"),
    (["generate", *ADHOC, "--placement", "sideways"], "sideways"),
    (["generate", *ADHOC, "--length", "0"], "--length 0"),
    (["generate", *ADHOC, "--category", "Lookup"], "'Lookup'"),
    (["generate", *ADHOC, "--positives", "0"], "--positives"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--concurrency", "0"], "--concurrency"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--max-tokens", "-5"], "--max-tokens"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--timeout", "0"], "--timeout 0"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--temperature", "nan"], "--temperature"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--max-retry-after", "0"], "retry-after"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--api-key-env", "HB_UNSET"], "HB_UNSET"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--option", "novalue"], "key=value"),
    (["run", "--instances", "i.jsonl", "--backend", "nope", "-o", "r"], "unknown backend 'nope'"),
    (["score", "--instances", "i.jsonl", "--predictions", "r", "--rel-tol", "nan"], "--rel-tol nan"),
    (["score", "--instances", "i.jsonl", "--predictions", "r", "--concurrency", "0"], "--concurrency"),
    (["report", "r", "-o", "out", "--resamples", "0"], "--resamples 0"),
    (["generate", *ADHOC, "--length", "many"], "Invalid value for '--length'"),
    (["db", "show", "store_1", "--templates", "tpl"], "applies to spider: sources only"),
    (["run", "--instances", "i.jsonl", "--backend", "no-answer"], "Missing option '--out'"),
    (["generate", "--suite", "smoke", "-o", "s", "--bogus"], "No such option: --bogus"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_OPTIONS, ids=[n for _, n in BAD_OPTIONS])
def test_a_bad_option_value_is_one_line_before_any_work(
    holo: Holo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], needle: str
) -> None:
    monkeypatch.delenv("HB_UNSET", raising=False)
    (tmp_path / "i.jsonl").write_text("", encoding="utf-8")
    refused(holo(*args), needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.jsonl"]  # nothing written


# =========================================================================== output paths


def test_generate_into_an_existing_file(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("mine", encoding="utf-8")
    refused(holo("generate", "--suite", "smoke", "-o", "taken"), "taken: --out: is a file, not a folder")
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "mine"


def test_generate_into_a_device(holo: Holo) -> None:
    refused(holo("generate", "--suite", "smoke", "-o", os.devnull), "is a device or special file")


def test_ad_hoc_generate_onto_a_device_never_replaces_it(holo: Holo, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    message = refused(
        holo("generate", "--db", "store_1", "--sql", "SELECT 1", "--question", "q", "--density", "0.5", "-o", fifo),
        "device or special file",
    )
    assert "pipe" in message and fifo.is_fifo()


def test_ad_hoc_generate_onto_a_folder(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    refused(
        holo("generate", "--db", "store_1", "--sql", "SELECT 1", "--question", "q", "--density", "0.5", "-o", "folder"),
        "folder: --out: is a folder; give a file path",
    )


def test_output_below_a_file(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    refused(holo("generate", "--suite", "smoke", "-o", "plain/suite"), "plain is a file, not a folder")
    assert (tmp_path / "plain").read_text(encoding="utf-8") == "x"


def test_run_into_a_suite_folder_is_refused(holo: Holo, tmp_path: Path, work: Work) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(work.instances, suite / "instances.jsonl")
    (suite / "manifest.json").write_text("{}", encoding="utf-8")
    refused(holo("run", "--instances", suite / "instances.jsonl", "--backend", "no-answer", "-o", suite), "run folder")
    assert sorted(p.name for p in suite.iterdir()) == ["instances.jsonl", "manifest.json"]


def test_report_onto_its_own_run_keeps_the_run(holo: Holo, tmp_path: Path, work: Work) -> None:
    """``report RUN -o RUN`` once replaced the run folder (predictions and scores) by the report."""
    run = copy_run(work, tmp_path)
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    refused(holo("report", run, "-o", run), "not a holobench report folder", "nothing there was touched")
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before


def test_score_into_a_run_folder_is_refused(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    other = tmp_path / "other"
    shutil.copytree(run, other)
    refused(holo("score", "--instances", work.instances, "--predictions", run, "-o", other), "score folder")


def test_leaderboard_onto_a_folder_of_other_files(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("keep me", encoding="utf-8")
    refused(holo("leaderboard", "build", "nothing.tar.gz", "-o", "site"), "site: --out", "leaderboard site")
    assert (tmp_path / "site" / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_submit_pack_onto_an_existing_path(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    (tmp_path / "sub.tar.gz").write_bytes(b"older")
    refused(holo("submit", "pack", run, "--suite", "smoke", "-o", "sub.tar.gz"), "already exists")
    assert (tmp_path / "sub.tar.gz").read_bytes() == b"older"


def test_a_report_over_an_older_report_replaces_it(holo: Holo, tmp_path: Path, work: Work) -> None:
    """The check refuses foreign folders only: the same kind of output is replaced as before."""
    run = copy_run(work, tmp_path)
    assert holo("report", run, "-o", "rep", "--resamples", "50").code == 0
    (tmp_path / "rep" / "stale.txt").write_text("old", encoding="utf-8")
    assert holo("report", run, "-o", "rep", "--resamples", "50").code == 0
    assert not (tmp_path / "rep" / "stale.txt").exists() and (tmp_path / "rep" / "report.md").is_file()
    assert leftovers(tmp_path) == []


# =========================================================================== file-system faults midway


def _with_file_limit(limit: int, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process whose files may not grow past ``limit`` bytes: every write past it
    fails with EFBIG, as a full disk fails with ENOSPC."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "HOLOBENCH_CACHE_DIR": str(cwd / "token-cache")}
    return subprocess.run(
        [sys.executable, "-m", "holobench.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in last, (needle, last)


def test_disk_full_while_generating_leaves_nothing(tmp_path: Path) -> None:
    proc = _with_file_limit(60_000, "generate", "--suite", "smoke", "-o", "suite", cwd=tmp_path)
    _one_error_line(proc, "suite/instances.jsonl", "free space")
    assert [p for p in (tmp_path / "suite").rglob("*")] == [] and leftovers(tmp_path) == []


def test_disk_full_while_running_keeps_every_finished_prediction(tmp_path: Path, work: Work) -> None:
    args = ("run", "--instances", work.instances, "--backend", "no-answer", "-o", "run", "--no-cache")
    proc = _with_file_limit(6_000, *args, cwd=tmp_path)
    _one_error_line(proc, "run/predictions.jsonl")
    kept = (tmp_path / "run" / "predictions.jsonl").read_bytes().count(b"\n")
    assert 0 < kept < 36
    resumed = subprocess.run(
        [sys.executable, "-m", "holobench.cli", *map(str, args)], cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert len({r["id"] for r in records}) == 36
    assert f"{36 - kept} answered" in resumed.stdout  # the finished ones were not asked again


def test_disk_full_while_scoring_leaves_no_half_file(tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    shutil.rmtree(run / "scores")
    proc = _with_file_limit(4_000, "score", "--instances", work.instances, "--predictions", run, cwd=tmp_path)
    _one_error_line(proc, "scores.jsonl")
    assert leftovers(tmp_path) == [] and not (run / "scores" / "match" / "scores.jsonl").exists()


def test_disk_full_while_reporting_keeps_the_older_report(tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    ok = _with_file_limit(50_000_000, "report", run, "-o", "rep", "--resamples", "50", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    proc = _with_file_limit(3_000, "report", run, "-o", "rep", "--resamples", "50", cwd=tmp_path)
    _one_error_line(proc, "rep")
    assert (tmp_path / "rep" / "report.md").read_text(encoding="utf-8") == before
    assert leftovers(tmp_path) == []


def test_a_full_response_cache_is_one_clear_line(tmp_path: Path, work: Work) -> None:
    args = ("run", "--instances", work.instances, "--backend", "no-answer", "-o", "run", "--cache-dir", "c")
    proc = _with_file_limit(2_000, *args, cwd=tmp_path)
    _one_error_line(proc, "response cache", "--no-cache")


# =========================================================================== secrets


def test_a_key_in_the_url_credentials_is_refused_and_never_shown(holo: Holo, tmp_path: Path, work: Work) -> None:
    result = holo(
        "run", "--instances", work.instances, "--backend", "openai", "--model", "m",
        "--base-url", f"http://user:{SECRET}@127.0.0.1:9/v1", "-o", "run",
    )  # fmt: skip
    message = refused(result, "REDACTED", "--api-key-env")
    assert SECRET not in message and not (tmp_path / "run").exists()


@pytest.fixture()
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def two_instances(work: Work, where: Path) -> Path:
    path = where / "two.jsonl"
    path.write_text("".join(work.instances.read_text(encoding="utf-8").splitlines(keepends=True)[:2]))
    return path


def test_a_key_in_the_query_string_never_reaches_disk(
    holo: Holo, tmp_path: Path, work: Work, server: FakeOpenAIServer, no_proxy: None
) -> None:
    url = f"{server.base_url}?api_key={SECRET}"
    result = holo("run", "--instances", two_instances(work, tmp_path), "--backend", "openai", "--model", "m",
                  "--base-url", url, "-o", "run", "--no-cache")  # fmt: skip
    assert result.code == 0, result.err
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert "api_key=REDACTED" in manifest["backend"]["base_url"]
    assert secrets_on_disk(tmp_path) == [] and SECRET not in result.out + result.err
    assert holo("score", "--instances", tmp_path / "two.jsonl", "--predictions", "run").code == 0
    assert holo("submit", "pack", "run", "--suite", "two", "-o", "sub.tar.gz").code == 0
    assert secrets_on_disk(tmp_path) == []


def _packed(holo: Holo, tmp_path: Path, work: Work) -> Path:
    run = copy_run(work, tmp_path)
    assert holo("submit", "pack", run, "--suite", "smoke", "-o", "sub").code == 0
    return tmp_path / "sub"


@pytest.mark.parametrize(
    ("where", "edit"),
    [
        ("manifest", lambda m: m.update(notes=f"run with {SECRET}")),
        ("manifest", lambda m: m["backend_settings"].update(base_url=f"https://h/v1?key={SECRET}")),
        ("manifest", lambda m: m["backend_settings"].update(api_key="anything")),
        ("manifest", lambda m: m["backend_settings"].update(base_url="http://me:pw1234@h/v1")),
        ("predictions", lambda p: p.update(status="error", response=None, error=f"401 for key {SECRET}")),
        ("predictions", lambda p: p.update(response="Bearer abcdefgh1234")),
    ],
    ids=["notes", "query-param", "secret-setting", "url-password", "error-text", "bearer-in-response"],
)
def test_submit_validate_finds_keys_in_any_field(
    holo: Holo, tmp_path: Path, work: Work, where: str, edit: Callable[[dict[str, object]], None]
) -> None:
    sub = _packed(holo, tmp_path, work)
    if where == "manifest":
        manifest = json.loads((sub / "manifest.json").read_text(encoding="utf-8"))
        edit(manifest)
        (sub / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    else:
        records = read_jsonl(sub / "predictions.jsonl")
        edit(records[3])
        write_jsonl(sub / "predictions.jsonl", records)
    message = refused(holo("submit", "validate", sub), "secret", "rotate the key")
    assert SECRET not in message and "pw1234" not in message


# =========================================================================== submitted scores


def _tamper_scores(sub: Path, edit: Callable[[dict[str, object]], None], only: int | None = None) -> None:
    records = read_jsonl(sub / "scores.jsonl")
    for i, record in enumerate(records):
        if only is None or i == only:
            edit(record)
    write_jsonl(sub / "scores.jsonl", records)


def _all_correct(record: dict[str, object]) -> None:
    if record["status"] == "scored":
        record["labels"] = ["exact"] * len(record["labels"])  # type: ignore[arg-type]
        record["score"] = 1.0


@pytest.mark.parametrize(
    ("edit", "only", "needle"),
    [
        (_all_correct, None, "differ from match rescored"),
        (lambda r: r.update(score=50.0), 0, "outside [0, 1]"),
        (lambda r: r.update(score=float("nan")), 0, "outside [0, 1]"),
        (lambda r: r.update(score=0.75), 0, "disagree with their own labels"),
        (lambda r: r.update(scorer="judge"), 0, "score the whole run with one scorer"),
        (lambda r: r.update(model="other-model"), 0, "submit one run of one model"),
    ],
    ids=["all-correct", "fifty", "nan", "label-mismatch", "mixed-scorer", "two-models"],
)
def test_a_tampered_submission_is_refused(
    holo: Holo, tmp_path: Path, work: Work, edit: Callable[[dict[str, object]], None], only: int | None, needle: str
) -> None:
    sub = _packed(holo, tmp_path, work)
    _tamper_scores(sub, edit, only)
    refused(holo("submit", "validate", sub, "--instances", work.instances), needle)
    refused(holo("leaderboard", "build", sub, "--instances", work.instances, "-o", "site"), needle)
    assert not (tmp_path / "site").exists() and leftovers(tmp_path) == []


def test_a_valid_submission_passes_and_ranks(holo: Holo, tmp_path: Path, work: Work) -> None:
    sub = _packed(holo, tmp_path, work)
    assert holo("submit", "validate", sub, "--instances", work.instances).code == 0
    built = holo("leaderboard", "build", sub, "--instances", work.instances, "-o", "site")
    assert built.code == 0, built.err
    board = json.loads((tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert [e["flags"] for e in board["entries"]] == [[]]


def test_a_judge_far_from_match_is_flagged_not_refused(holo: Holo, tmp_path: Path, work: Work) -> None:
    sub = _packed(holo, tmp_path, work)
    _tamper_scores(sub, lambda r: (_all_correct(r), r.update(scorer="judge")))
    manifest = json.loads((sub / "manifest.json").read_text(encoding="utf-8"))
    manifest["scorer"] = "judge"
    (sub / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = holo("submit", "validate", sub, "--instances", work.instances)
    assert result.code == 0, result.err
    assert "flag:" in result.err and "differ from match rescoring" in result.err
    assert holo("leaderboard", "build", sub, "--instances", work.instances, "-o", "site").code == 0
    board = json.loads((tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert "differ from match rescoring" in board["entries"][0]["flags"][0]
    assert "flagged" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda rs: rs[0].update(score=50.0), "outside [0, 1]"),
        (lambda rs: rs[0].update(model="another"), "mixes 2 runs"),
        (lambda rs: rs[0].update(scorer="judge"), "mixes 2 scorers"),
        (lambda rs: rs.append(dict(rs[0])), "scored twice"),
    ],
    ids=["out-of-range", "two-models", "two-scorers", "duplicate"],
)
def test_report_refuses_scores_it_cannot_average(
    holo: Holo, tmp_path: Path, work: Work, edit: Callable[[list[dict[str, object]]], None], needle: str
) -> None:
    records = read_jsonl(work.run / "scores" / "match" / "scores.jsonl")
    edit(records)
    write_jsonl(tmp_path / "scores.jsonl", records)
    refused(holo("report", "scores.jsonl", "-o", "rep"), "scores.jsonl: ", needle)
    assert not (tmp_path / "rep").exists()


def test_report_refuses_two_scorings_with_different_settings(holo: Holo, tmp_path: Path, work: Work) -> None:
    records = read_jsonl(work.run / "scores" / "match" / "scores.jsonl")
    write_jsonl(tmp_path / "loose.jsonl", [{**r, "scorer_version": "rel_tol=0.2"} for r in records])
    refused(holo("report", work.run, "loose.jsonl", "-o", "rep"), "rel_tol=0.2", "one scorer")
    loose = [{**r, "scorer_version": "rel_tol=0.2"} for r in records[5:]]
    write_jsonl(tmp_path / "mixed.jsonl", [*records[:5], *loose])
    refused(holo("report", "mixed.jsonl", "-o", "rep"), "mixes 2 scorer settings")


def test_a_submission_is_rescored_with_its_own_declared_tolerance(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    assert holo("score", "--instances", work.instances, "--predictions", run, "--rel-tol", "0.2").code == 0
    assert holo("submit", "pack", run, "--suite", "smoke", "-o", "sub").code == 0
    assert holo("submit", "validate", "sub", "--instances", work.instances).code == 0
    records = read_jsonl(tmp_path / "sub" / "scores.jsonl")
    assert {r["scorer_version"] for r in records} == {"rel_tol=0.2"}


def test_report_refuses_runs_under_different_scorers(holo: Holo, tmp_path: Path, work: Work) -> None:
    records = read_jsonl(work.run / "scores" / "match" / "scores.jsonl")
    write_jsonl(tmp_path / "judge.jsonl", [{**r, "scorer": "judge"} for r in records])
    refused(holo("report", work.run, "judge.jsonl", "-o", "rep"), "judge.jsonl: scored by 'judge", "one scorer")


# =========================================================================== limits


def test_a_query_file_that_is_not_utf8_is_one_line(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_bytes(b"\xff\xfe\x00db_id: store_1\n")
    refused(holo("queries", "validate", "q.yaml"), "q.yaml", "not UTF-8")


def test_a_runaway_query_is_stopped_and_named(holo: Holo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLOBENCH_QUERY_TIMEOUT", "1")
    (tmp_path / "q.yaml").write_text(
        "db_id: nycflights\nqueries:\n  - id: nycflights-boom\n    question: How many?\n"
        "    sql: SELECT COUNT(*) FROM flights a, flights b, flights c, flights d\n"
        "    categories: [Aggregation, Join]\n    difficulty: hard\n",
        encoding="utf-8",
    )
    result = holo("queries", "validate", "q.yaml")
    assert result.code == 1  # a failed check, reported per query
    assert "nycflights-boom" in result.out and "ran longer than 1 s and was stopped" in result.out


def test_a_huge_retry_after_fails_the_request_instead_of_waiting(
    holo: Holo, tmp_path: Path, work: Work, no_proxy: None
) -> None:
    state = ServerState(plan=lambda prompt, attempt: Fault(kind="status", status=429, retry_after=100_000))
    srv = FakeOpenAIServer(state).start()
    try:
        result = holo("run", "--instances", two_instances(work, tmp_path), "--backend", "openai", "--model", "m",
                      "--base-url", srv.base_url, "-o", "run", "--no-cache", "--max-retry-after", "5")  # fmt: skip
    finally:
        srv.stop()
    assert result.code == 1  # failed requests are recorded, not waited on for 28 hours
    errors = [r["error"] for r in read_jsonl(tmp_path / "run" / "predictions.jsonl")]
    assert len(errors) == 2 and all("asked to wait 100000 s" in str(e) for e in errors)


def test_two_runs_into_one_folder_are_refused(holo: Holo, tmp_path: Path, work: Work) -> None:
    from holobench._io import exclusive

    with exclusive(tmp_path / "run", "a holobench run"):
        message = refused(
            holo("run", "--instances", work.instances, "--backend", "no-answer", "-o", "run"), "is writing here now"
        )
    assert f"pid {os.getpid()}" in message
    assert not (tmp_path / "run" / "predictions.jsonl").exists()


# =========================================================================== sandboxed templates


@pytest.mark.parametrize(
    "body",
    [
        "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    ],
    ids=["popen", "subclasses"],
)
def test_a_template_cannot_run_code(holo: Holo, tmp_path: Path, body: str) -> None:
    shop = tmp_path / "data" / "shop"
    shop.mkdir(parents=True)
    (shop / "items.csv").write_text("id,name\n1,pear\n", encoding="utf-8")
    (shop / "templates").mkdir()
    (shop / "templates" / "items.j2").write_text(body, encoding="utf-8")
    result = holo("verbalize", "show", "shop", "items", "--source", f"files:{shop}")
    refused(result, "items.j2", "unsafe operation")
    assert not (tmp_path / "PWNED").exists()


# =========================================================================== loaders


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"id,name\n1,pear\n2,fig,extra\n", "line 3 has 3 field(s)"),
        (b"id,name\n1,caf\xe9\n", "not UTF-8"),
        (b"", "empty file"),
    ],
    ids=["ragged", "latin-1", "empty"],
)
def test_a_bad_csv_is_named_not_silently_shortened(holo: Holo, tmp_path: Path, content: bytes, needle: str) -> None:
    (tmp_path / "data" / "shop").mkdir(parents=True)
    (tmp_path / "data" / "shop" / "items.csv").write_bytes(content)
    refused(holo("db", "show", "shop", "--source", f"files:{tmp_path / 'data' / 'shop'}"), "items.csv", needle)


def test_a_blob_is_verbalized_losslessly(holo: Holo, tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "pics.sqlite")
    con.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, caption BLOB, data BLOB)")
    con.execute("INSERT INTO photos VALUES (1, ?, ?)", (b"Harbour at dawn", b"\x00\x01\xff"))
    con.commit()
    con.close()
    result = holo("verbalize", "show", "pics", "photos", "--source", f"sqlite:{tmp_path / 'pics.sqlite'}")
    assert result.code == 0, result.err
    assert "Harbour at dawn" in result.out and "X'0001ff'" in result.out
    assert "\x00" not in result.out and "\ufffd" not in result.out


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("queries:\n  ids: [store_1-q001, store_1-q999]", "store_1-q999"),
        ("databases: [store_1, atlantis]\nqueries: all", "atlantis"),
        ("queries:\n  categories: [Lookups]", "Lookups"),
        ("placements: [middle, sideways]", "sideways"),
    ],
    ids=["query-id", "database", "category", "placement"],
)
def test_a_suite_naming_what_does_not_exist(holo: Holo, tmp_path: Path, edit: str, needle: str) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: hostile\nsource: bundled\nlengths: [1k]\nsettings:\n  - amount: 256\nseeds: [0]\n"
        + ("" if edit.startswith("placements") else "placements: [middle]\n")
        + ("" if "queries" in edit else "queries: all\n")
        + edit
        + "\n",
        encoding="utf-8",
    )
    refused(holo("generate", "--suite", "s.yaml", "-o", "out"), needle)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_duplicate_instance_ids_are_refused_by_run_and_score(holo: Holo, tmp_path: Path, work: Work) -> None:
    lines = work.instances.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "dup.jsonl").write_text(lines[0] + lines[1] + lines[0], encoding="utf-8")
    refused(holo("run", "--instances", "dup.jsonl", "--backend", "no-answer", "-o", "run"), "dup.jsonl", "twice")
    assert not (tmp_path / "run" / "predictions.jsonl").exists()
    shutil.copy(work.run / "predictions.jsonl", tmp_path / "bare.jsonl")  # no manifest: no hash check first
    refused(holo("score", "--instances", "dup.jsonl", "--predictions", "bare.jsonl", "-o", "sc"), "dup.jsonl", "twice")


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"not json\n", "dup.jsonl:1"), (b'{"id": "x"}\n', "dup.jsonl:1"), (b"\xff\xfe\n", "dup.jsonl:1")],
    ids=["not-json", "not-an-instance", "binary"],
)
def test_a_broken_instances_file_names_its_line(holo: Holo, tmp_path: Path, content: bytes, needle: str) -> None:
    (tmp_path / "dup.jsonl").write_bytes(content)
    refused(holo("run", "--instances", "dup.jsonl", "--backend", "no-answer", "-o", "run"), needle)


def test_a_missing_instances_file(holo: Holo) -> None:
    refused(holo("run", "--instances", "nowhere.jsonl", "--backend", "no-answer", "-o", "run"), "nowhere.jsonl")


def test_a_corrupt_journal_line_is_named(holo: Holo, tmp_path: Path, work: Work) -> None:
    run = copy_run(work, tmp_path)
    with (run / "predictions.jsonl").open("r+b") as fh:
        fh.seek(0)
        fh.write(b"{garbage")
    refused(holo("run", "--instances", work.instances, "--backend", "no-answer", "-o", run), "predictions.jsonl:1")


# =========================================================================== weak spots


def test_merge_refuses_two_different_answers_to_one_instance(holo: Holo, tmp_path: Path, work: Work) -> None:
    a = copy_run(work, tmp_path)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    records = read_jsonl(b / "predictions.jsonl")
    records[0]["response"] = "Final answer: 42"
    write_jsonl(b / "predictions.jsonl", records)
    refused(holo("merge", a, b, "-o", "merged"), str(records[0]["id"]), "answered differently")
    assert not (tmp_path / "merged" / "predictions.jsonl").exists()


def test_merge_of_identical_shards_is_fine(holo: Holo, tmp_path: Path, work: Work) -> None:
    a = copy_run(work, tmp_path)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert holo("merge", a, b, "-o", "merged").code == 0
    assert len(read_jsonl(tmp_path / "merged" / "predictions.jsonl")) == 36


def test_agreement_warns_when_the_two_sides_are_different_runs(holo: Holo, tmp_path: Path, work: Work) -> None:
    records = read_jsonl(work.run / "scores" / "match" / "scores.jsonl")
    write_jsonl(tmp_path / "other.jsonl", [{**r, "model": "someone-else"} for r in records[:30]])
    result = holo("agreement", work.run, "other.jsonl")
    assert result.code == 0
    assert "warning: the two sides score different runs" in result.err
    assert "6 instance(s) are scored on one side only" in result.err
    assert "Aggregation" in result.out and "agreement" in result.out  # per-category table


def test_a_plain_selection_generates_as_selection(holo: Holo, tmp_path: Path) -> None:
    sql = "SELECT name FROM genres WHERE id = 3"
    result = holo("generate", "--db", "store_1", "--sql", sql, "--question", "Which genre has id 3?",
                  "--density", "0.5", "-o", "one.jsonl")  # fmt: skip
    assert result.code == 0, result.err
    instance = json.loads((tmp_path / "one.jsonl").read_text(encoding="utf-8"))
    assert instance["categories"] == ["Selection"] and instance["gold"]["rows"]


def test_queries_validate_accepts_a_selection(holo: Holo, tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        "db_id: store_1\nqueries:\n  - id: store_1-sel\n    question: Which genre has id 3?\n"
        "    sql: SELECT name FROM genres WHERE id = 3\n    categories: [Selection]\n    difficulty: easy\n",
        encoding="utf-8",
    )
    result = holo("queries", "validate", "q.yaml")
    assert result.code == 0, result.out
    assert "Selection 1" in result.out


def test_an_unreachable_endpoint_is_named_in_the_failure(
    holo: Holo, tmp_path: Path, work: Work, no_proxy: None
) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    result = holo("run", "--instances", two_instances(work, tmp_path), "--backend", "openai", "--model", "m",
                  "--base-url", url, "-o", "run", "--no-cache", "--max-retries", "0")  # fmt: skip
    assert result.code == 1
    assert f"connection to {url} failed" in result.err
    assert all(url in str(r["error"]) for r in read_jsonl(tmp_path / "run" / "predictions.jsonl"))


def test_bad_base_urls_are_refused_up_front(holo: Holo, tmp_path: Path, work: Work) -> None:
    for url, needle in (("ftp://host/v1", "not an http(s) URL"), ("localhost:8000", "not an http(s) URL")):
        refused(holo("run", "--instances", work.instances, "--backend", "openai", "--model", "m",
                     "--base-url", url, "-o", "run"), needle)  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_the_error_contract_holds_from_the_shell(tmp_path: Path) -> None:
    """The installed entry point, not just ``main``: one line on stderr, nothing on stdout, exit 2."""
    script = ROOT / ".venv" / "bin" / "holobench"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "holobench.cli"]
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    proc = subprocess.run(
        [*command, "generate", "--suite", "smoke", "-o", "taken"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["error: taken: --out: is a file, not a folder; give a new or empty folder"]
