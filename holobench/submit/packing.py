"""``holobench submit pack``: a scored run -> a submission folder or archive.

The submission is written to a staging folder and validated there with the leaderboard's own
checks before anything appears at the output path, so a packed submission always passes
``validate`` and a failed pack leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from holobench._io import atomic_write_text, staged_dir
from holobench._version import __version__
from holobench.errors import HoloBenchError
from holobench.journal import Journal
from holobench.jsonl import write_jsonl
from holobench.prompts import closed_book
from holobench.records import Prediction, ScoreRecord, SubmissionManifest
from holobench.submit.archive import (
    MANIFEST,
    PREDICTIONS,
    REPORT,
    REPORT_SUBDIRS,
    REPORT_SUFFIXES,
    REQUIRED,
    SCORES,
    Kind,
    SubmissionError,
    _archive_kind,
    _fail,
    _few,
)
from holobench.submit.validation import _duplicates, _read_jsonl, _reason, _validate_folder


def _load_json_object(path: Path, hint: str) -> dict[str, Any]:
    """A JSON object from ``path``, or a ``SubmissionError`` that ends with ``hint`` (what to do)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SubmissionError(f"{path}: missing or unreadable ({exc}); {hint}") from exc
    if not isinstance(data, dict):
        raise SubmissionError(f"{path}: not a JSON object; {hint}")
    return data


def _report_files(report_dir: Path) -> list[tuple[Path, str]]:
    """(file, name inside report/): top-level files and those in the report's tables/ and plots/."""
    if not report_dir.is_dir():
        raise SubmissionError(f"{report_dir}: report folder not found (pass an existing folder or leave it out)")
    files = []
    for child in sorted(report_dir.iterdir()):
        children = [child]
        if child.name in REPORT_SUBDIRS and child.is_dir() and not child.is_symlink():
            children = sorted(child.iterdir())
        for entry in children:
            if entry.is_symlink() or not entry.is_file():
                raise SubmissionError(f"{entry}: report entries must be regular files (no folders or symlinks)")
            if entry.suffix.lower() not in REPORT_SUFFIXES:
                allowed = ", ".join(sorted(REPORT_SUFFIXES))
                raise SubmissionError(f"{entry}: report files must end in {allowed} (move it out of the report folder)")
            files.append((entry, entry.relative_to(report_dir).as_posix()))
    return files


def _write_tar(root: Path, names: list[str], dest: Path, mtime: float) -> None:
    """A .tar.gz of ``names`` in order, with one mode and time: nothing of the packer's disk leaks in."""
    with tarfile.open(dest, "w:gz") as tf:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = (root / name).stat().st_size
            info.mode = 0o644
            info.mtime = int(mtime)
            with (root / name).open("rb") as fh:
                tf.addfile(info, fh)


def _write_zip(root: Path, names: list[str], dest: Path, when: datetime) -> None:
    """A .zip of ``names`` in order, with one mode and time (zip dates start in 1980)."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            with (root / name).open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Prediction]]:
    """The run's manifest, backend settings and predictions; only a whole run with answers is packed."""
    run = _load_json_object(run_dir / "manifest.json", f"is {run_dir} a run folder (holobench run --out)?")
    if run.get("shard"):
        raise SubmissionError(f"{run_dir}: holds one shard {run['shard']} (merge all shards first: holobench merge)")
    settings = run.get("backend")
    if not isinstance(settings, dict) or not isinstance(settings.get("backend"), str):
        raise SubmissionError(f"{run_dir / 'manifest.json'}: no backend settings (re-run with this holobench version)")
    try:
        predictions = Journal(run_dir / PREDICTIONS).load(repair=False)
    except HoloBenchError as exc:
        raise SubmissionError(str(exc)) from exc
    if not predictions:
        raise SubmissionError(f"{run_dir / PREDICTIONS}: no predictions (run holobench run first)")
    return run, settings, predictions


def _load_scores(scores_dir: Path, predictions: dict[str, Prediction]) -> tuple[dict[str, ScoreRecord], str]:
    """Scores by id and their scorer: one score per prediction, all from one scorer, so the
    submission is refused here rather than by the leaderboard."""
    problems: list[str] = []
    scores = _read_jsonl(scores_dir / SCORES, ScoreRecord, "score record", problems, str(scores_dir / SCORES))
    if problems:
        raise _fail(scores_dir, problems)
    score_by_id = {s.id: s for s in scores}
    if len(score_by_id) != len(scores):
        raise SubmissionError(
            f"{scores_dir / SCORES}: duplicate id(s) {_few(_duplicates(s.id for s in scores))} (re-score the run)"
        )
    unscored, orphans = set(predictions) - set(score_by_id), set(score_by_id) - set(predictions)
    if unscored or orphans:
        detail = "; ".join(
            text
            for text in (
                f"no score for {_few(unscored)}" if unscored else "",
                f"scores for {_few(orphans)} with no prediction" if orphans else "",
            )
            if text
        )
        raise SubmissionError(f"{scores_dir / SCORES}: predictions and scores disagree on ids: {detail} (re-score)")
    scorers = sorted({s.scorer for s in scores})
    if len(scorers) != 1:
        raise SubmissionError(f"{scores_dir / SCORES}: scores from several scorers {_few(scorers)} (score with one)")
    summary_path = scores_dir / "summary.json"
    if summary_path.exists():
        summary = _load_json_object(summary_path, "re-run holobench score")
        if isinstance(summary.get("scorer"), str) and summary["scorer"] != scorers[0]:
            raise SubmissionError(
                f"{summary_path}: scorer {summary['scorer']!r} but {SCORES} has {scorers[0]!r} (re-run holobench score)"
            )
    return score_by_id, scorers[0]


def _manifest(
    run_dir: Path,
    run: dict[str, Any],
    settings: dict[str, Any],
    *,
    n_instances: int,
    scorer: str,
    suite: str,
    label: str | None,
    notes: str,
    created: datetime,
) -> SubmissionManifest:
    """The submission's manifest: the run's record of itself, plus what the submitter says about it."""
    backend_settings = dict(settings)
    if "sampling" in run and "sampling" not in backend_settings:
        backend_settings["sampling"] = run["sampling"]  # decides the answers as much as the model does
    model = str(settings.get("model", ""))
    if run.get("closed_book") and not closed_book(str(run.get("prompt", ""))):
        raise SubmissionError(
            f"{run_dir / 'manifest.json'}: a closed-book run whose prompt {run.get('prompt')!r} lacks '+closed'"
            " (re-run it with holobench run --closed-book)"
        )
    try:
        return SubmissionManifest(
            format_version=1,
            holobench_version=str(run.get("holobench_version") or __version__),
            suite=suite,
            instances_sha256=str(run.get("instances_sha256", "")),
            n_instances=n_instances,
            model=model,
            backend=settings["backend"],
            backend_settings=backend_settings,
            prompt=str(run.get("prompt", "")),
            scorer=scorer,
            created=created.isoformat().replace("+00:00", "Z"),
            label=label or model,
            notes=notes,
            versions={k: v for k, v in (("run", run.get("versions")), ("suite", run.get("suite_versions"))) if v},
        )
    except ValidationError as exc:
        raise SubmissionError(f"{run_dir}: cannot build the submission manifest ({_reason(exc)})") from exc


def _stage(
    staging: Path,
    out: Path,
    manifest: SubmissionManifest,
    predictions: dict[str, Prediction],
    score_by_id: dict[str, ScoreRecord],
    reports: list[tuple[Path, str]],
) -> list[str]:
    """Write the submission's files into ``staging`` (records sorted by id) and check them as the
    leaderboard will, naming ``out`` in any message; returns the names, in archive order."""
    atomic_write_text(staging / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
    write_jsonl(staging / PREDICTIONS, (predictions[pid] for pid in sorted(predictions)))
    write_jsonl(staging / SCORES, (score_by_id[sid] for sid in sorted(score_by_id)))
    names = list(REQUIRED)
    if reports:
        (staging / REPORT).mkdir()
        for src, name in reports:
            (staging / REPORT / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(src, staging / REPORT / name)
            names.append(f"{REPORT}/{name}")
    _validate_folder(staging, out, None)  # a packed submission must pass the leaderboard's checks
    return names


def _archive(staging: Path, names: list[str], out: Path, kind: Kind, when: datetime) -> None:
    """Archive the staged files beside ``out`` under a temporary name, then rename it into place."""
    archive_tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        if kind == "tar":
            _write_tar(staging, names, archive_tmp, when.timestamp())
        else:
            _write_zip(staging, names, archive_tmp, when)
        archive_tmp.replace(out)
    finally:
        archive_tmp.unlink(missing_ok=True)


def pack(
    run_dir: Path,
    scores_dir: Path,
    out: Path,
    *,
    suite: str,
    label: str | None = None,
    notes: str = "",
    report_dir: Path | None = None,
) -> Path:
    """Bundle a run and its scores into a submission at ``out`` (archive by suffix, else a folder).

    The result is validated before it is moved into place, so a packed submission always passes
    ``validate``; on any failure nothing is left at ``out``.
    """
    if out.exists() or out.is_symlink():
        raise SubmissionError(f"{out}: already exists (remove it or choose another output path)")
    run, settings, predictions = _load_run(run_dir)
    score_by_id, scorer = _load_scores(scores_dir, predictions)
    now = datetime.now(UTC).replace(microsecond=0)
    manifest = _manifest(
        run_dir,
        run,
        settings,
        n_instances=len(predictions),
        scorer=scorer,
        suite=suite,
        label=label,
        notes=notes,
        created=now,
    )
    reports = _report_files(report_dir) if report_dir is not None else []
    kind = _archive_kind(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind is None:  # the staged folder itself becomes the submission
        with staged_dir(out, "submission") as staging:
            _stage(staging, out, manifest, predictions, score_by_id, reports)
        return out
    with tempfile.TemporaryDirectory(
        prefix=f".{out.name}.", suffix=".tmp", dir=out.parent, ignore_cleanup_errors=True
    ) as scratch:  # the staged folder is only the archive's source
        names = _stage(Path(scratch), out, manifest, predictions, score_by_id, reports)
        _archive(Path(scratch), names, out, kind, now)
    return out
