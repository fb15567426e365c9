"""Leaderboard submissions: pack a scored run, and validate one before it is published.

A submission is a folder or a ``.tar.gz``/``.tgz``/``.zip`` archive holding exactly
``manifest.json``, ``predictions.jsonl``, ``scores.jsonl`` and, optionally, ``report/`` with
figures and tables.  Archives come from strangers, so every member is checked (paths, types,
sizes, compression ratio) before a single byte is extracted, and extraction goes only into a
fresh temporary folder that is deleted afterwards.  Every failure is one ``SubmissionError``
line naming the file, the item and the fix, so a submitter can repair all problems in one go.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from holobench._io import atomic_write_text
from holobench._version import __version__
from holobench.errors import HoloBenchError
from holobench.journal import Journal
from holobench.jsonl import file_hash
from holobench.records import Prediction, ScoreRecord, SubmissionManifest
from holobench.scoring.trust import judge_disagreement, rescore_problems, score_problems

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.jsonl"
SCORES = "scores.jsonl"
REPORT = "report"
#: The folders ``holobench report`` writes inside a report (one level, nothing deeper).
REPORT_SUBDIRS = ("tables", "plots")
REQUIRED = (MANIFEST, PREDICTIONS, SCORES)
REPORT_SUFFIXES = frozenset({".png", ".svg", ".csv", ".md", ".json"})

# Limits for untrusted archives; module globals (read at call time) so tests can shrink them.
MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 2**30
MAX_RATIO = 200
RATIO_MIN_BYTES = 2**20  # the ratio check applies to members at least this large
MAX_PROBLEMS_SHOWN = 5

_LAYOUT_FIX = (
    f"a submission holds only {MANIFEST}, {PREDICTIONS}, {SCORES} and report/*"
    f"{{{','.join(sorted(REPORT_SUFFIXES))}}}; remove it"
)

Kind = Literal["dir", "tar", "zip"]
M = TypeVar("M", bound=BaseModel)


class SubmissionError(HoloBenchError):
    """A submission (or the run being packed) is unsafe, malformed or inconsistent."""


@dataclass(frozen=True)
class Submission:
    """A validated submission, read into memory (any extraction folder is already gone)."""

    manifest: SubmissionManifest
    predictions: list[Prediction]
    scores: list[ScoreRecord]
    report: list[str]  # file names inside report/
    source: Path
    flags: tuple[str, ...] = ()  # worth a look but not a reason to refuse (judge vs match)


@dataclass(frozen=True)
class _Entry:
    name: str  # normalised: no "./", no empty components; "" is the root
    size: int
    is_dir: bool


# --------------------------------------------------------------------------------------- messages


def _show(text: str, limit: int = 80) -> str:
    """Quote a name from an untrusted archive so control characters cannot break the one-line message."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _few(items: Iterable[str], n: int = 3) -> str:
    ordered = sorted(items)
    head = ", ".join(_show(x, 40) for x in ordered[:n])
    return head + (f" and {len(ordered) - n} more" if len(ordered) > n else "")


def _fail(source: Path, problems: list[str]) -> SubmissionError:
    shown = problems[:MAX_PROBLEMS_SHOWN]
    text = "; ".join(shown)
    if len(problems) > len(shown):
        text += f"; and {len(problems) - len(shown)} more problem(s)"
    return SubmissionError(" ".join(f"{source}: {text}".split()))


def _reason(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in error["loc"])
    return f"{loc}: {error['msg']}" if loc else str(error["msg"])


# ----------------------------------------------------------------------------------------- layout


def _archive_kind(path: Path) -> Kind | None:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    return None


def _unsafe_name(name: str) -> str | None:
    """Why a member name could escape the extraction folder, or None when it cannot."""
    if not name or "\x00" in name:
        return "has an empty or NUL-containing name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if "\\" in name:
        return "has a backslash in its path"
    if ".." in name.split("/"):
        return "has a '..' path component"
    return None


def _normalise(name: str) -> str:
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _is_report_file(name: str) -> bool:
    parts = name.split("/")
    placed = len(parts) == 2 or (len(parts) == 3 and parts[1] in REPORT_SUBDIRS)
    return placed and parts[0] == REPORT and PurePosixPath(parts[-1]).suffix.lower() in REPORT_SUFFIXES


def _check_layout(entries: list[_Entry], problems: list[str]) -> None:
    """Exactly the expected files, no duplicates, and within the size limits."""
    if len(entries) > MAX_MEMBERS:
        problems.append(f"has {len(entries)} members, more than the {MAX_MEMBERS} allowed (drop report files)")
        return
    files = [e.name for e in entries if not e.is_dir]
    seen = Counter(name.casefold() for name in files)  # casefold: one file on case-insensitive disks
    duplicates = {name for name in files if seen[name.casefold()] > 1}
    if duplicates:
        problems.append(f"duplicate member(s) {_few(duplicates)} (each file may appear once; re-pack it)")
    total = 0
    for entry in entries:
        if entry.is_dir:
            if entry.name not in ("", REPORT, *(f"{REPORT}/{d}" for d in REPORT_SUBDIRS)):
                problems.append(f"unexpected folder {_show(entry.name)} ({_LAYOUT_FIX})")
            continue
        if entry.name not in REQUIRED and not _is_report_file(entry.name):
            problems.append(f"unexpected file {_show(entry.name)} ({_LAYOUT_FIX})")
        if entry.size > MAX_MEMBER_BYTES:
            problems.append(
                f"{_show(entry.name)} is {entry.size:,} bytes uncompressed, over the {MAX_MEMBER_BYTES:,}-byte limit"
                " (shrink or drop it)"
            )
        total += entry.size
    if total > MAX_TOTAL_BYTES:
        problems.append(f"holds {total:,} bytes uncompressed, over the {MAX_TOTAL_BYTES:,}-byte limit")
    for required in REQUIRED:
        if required not in files:
            problems.append(f"{required} is missing (put it at the top level; pack with holobench submit pack)")


def _bomb(name: str, size: int, compressed: int) -> str | None:
    if size >= RATIO_MIN_BYTES and size > MAX_RATIO * max(compressed, 1):
        return (
            f"{_show(name)} expands {size / max(compressed, 1):,.0f}x ({size:,} bytes), over the {MAX_RATIO}x"
            " compression-ratio limit (looks like a zip bomb; re-pack with ordinary compression)"
        )
    return None


# ------------------------------------------------------------------------------------ directories


def _scan_dir(root: Path, problems: list[str]) -> list[_Entry]:
    """A folder submission gets the same layout rules, and no symlinks or special files."""
    entries: list[_Entry] = []

    def visit(folder: Path, prefix: str) -> None:
        for child in sorted(folder.iterdir()):
            name = prefix + child.name
            mode = child.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{_show(name)} is a symlink (copy the real file in instead)")
            elif stat.S_ISDIR(mode):
                entries.append(_Entry(name, 0, True))
                if name == REPORT:
                    visit(child, name + "/")
            elif stat.S_ISREG(mode):
                entries.append(_Entry(name, child.lstat().st_size, False))
            else:
                problems.append(f"{_show(name)} is a device, fifo or socket (only regular files are allowed)")
            if len(entries) > MAX_MEMBERS:
                return

    visit(root, "")
    return entries


# ------------------------------------------------------------------------------------------- tar


class _CappedStream:
    """Decompressed bytes of a .tar.gz that stop at a cap, so a gzip bomb cannot burn CPU or disk."""

    def __init__(self, gz: gzip.GzipFile, cap: int) -> None:
        self._gz = gz
        self._cap = cap
        self._read = 0

    def read(self, size: int, /) -> bytes:
        data = self._gz.read(size)
        self._read += len(data)
        if self._read > self._cap:
            raise _CapExceeded
        return data

    def write(self, b: bytes, /) -> object:
        raise OSError("read-only")

    def tell(self) -> int:
        return self._read

    def seek(self, pos: int, /) -> object:
        raise OSError("not seekable")

    def close(self) -> object:
        return None  # the caller owns the gzip file


class _CapExceeded(Exception):
    pass


def _tar_signature(info: tarfile.TarInfo) -> tuple[str, bytes, int]:
    return info.name, info.type, info.size


def _scan_tar(path: Path, problems: list[str]) -> list[tuple[str, bytes, int]] | None:
    """Read member headers only, in a capped stream; None when the archive itself is unreadable."""
    archive_bytes = max(path.stat().st_size, 1)
    cap = MAX_TOTAL_BYTES + 4096 * (MAX_MEMBERS + 1) + 2**20  # content plus headers and padding
    signatures: list[tuple[str, bytes, int]] = []
    entries: list[_Entry] = []
    try:
        with gzip.open(path, "rb") as gz, tarfile.open(fileobj=_CappedStream(gz, cap), mode="r|") as tf:
            for info in tf:
                signatures.append(_tar_signature(info))
                if len(signatures) > MAX_MEMBERS:
                    problems.append(f"has more than {MAX_MEMBERS} members (drop report files)")
                    return signatures
                unsafe = _unsafe_name(info.name)
                if unsafe:
                    problems.append(f"member {_show(info.name)} {unsafe} (use relative paths inside the archive)")
                    continue
                name = _normalise(info.name)
                if info.issym() or info.islnk():
                    kind = "symlink" if info.issym() else "hard link"
                    problems.append(f"member {_show(info.name)} is a {kind} (archive the real file instead)")
                elif info.isdir():
                    entries.append(_Entry(name, 0, True))
                elif info.isreg():
                    entries.append(_Entry(name, info.size, False))
                    bomb = _bomb(name, info.size, archive_bytes)
                    if bomb:
                        problems.append(bomb)
                else:
                    problems.append(f"member {_show(info.name)} is a device or fifo (only regular files are allowed)")
    except _CapExceeded:
        problems.append(f"decompresses to more than {cap:,} bytes (too large, or a gzip bomb)")
        return None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(f"not a readable .tar.gz archive ({exc}); re-create it with holobench submit pack")
        return None
    _check_layout(entries, problems)
    return signatures


def _extract_tar(path: Path, dest: Path, problems: list[str]) -> None:
    signatures = _scan_tar(path, problems)
    if problems or signatures is None:
        return
    try:
        with tarfile.open(path, "r:gz") as tf:
            members = tf.getmembers()
            if [_tar_signature(m) for m in members] != signatures:
                problems.append("changed while being read (copy it somewhere stable and try again)")
                return
            tf.extractall(dest, members=[m for m in members if m.isreg()], filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(f"cannot be extracted ({exc}); re-create it with holobench submit pack")


# ------------------------------------------------------------------------------------------- zip


def _extract_zip(path: Path, dest: Path, problems: list[str]) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                problems.append(f"has {len(infos)} members, more than the {MAX_MEMBERS} allowed (drop report files)")
                return
            entries: list[_Entry] = []
            for info in infos:
                unsafe = _unsafe_name(info.filename)
                if unsafe:
                    problems.append(f"member {_show(info.filename)} {unsafe} (use relative paths inside the archive)")
                    continue
                name = _normalise(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    problems.append(f"member {_show(info.filename)} is a symlink (archive the real file instead)")
                elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    problems.append(
                        f"member {_show(info.filename)} is a device or fifo (only regular files are allowed)"
                    )
                elif info.flag_bits & 0x1:
                    problems.append(f"member {_show(info.filename)} is encrypted (submissions must be readable)")
                elif info.is_dir():
                    entries.append(_Entry(name, 0, True))
                else:
                    entries.append(_Entry(name, info.file_size, False))
                    bomb = _bomb(name, info.file_size, info.compress_size)
                    if bomb:
                        problems.append(bomb)
            _check_layout(entries, problems)
            if problems:
                return
            root = dest.resolve()
            for info in infos:
                if info.is_dir():
                    continue
                target = (dest / _normalise(info.filename)).resolve()
                if not target.is_relative_to(root):  # cannot happen after the checks; kept as a backstop
                    problems.append(f"member {_show(info.filename)} escapes the extraction folder")
                    return
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with zf.open(info) as src, target.open("xb") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        written += len(block)
                        if written > info.file_size:
                            problems.append(f"member {_show(info.filename)} is larger than its header says")
                            return
                        dst.write(block)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        problems.append(f"not a readable .zip archive ({exc}); re-create it with holobench submit pack")


# ---------------------------------------------------------------------------------------- content


def _read_jsonl(path: Path, model: type[M], what: str, problems: list[str], label: str | None = None) -> list[M]:
    """Every line must parse; bad lines are reported with their numbers, blank lines are ignored."""
    label = label or path.name
    records: list[M] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{label}: cannot be read ({exc.strerror})")
        return records
    leaks: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if _SECRET_VALUE.search(line.decode("utf-8", "replace")):
            leaks.append(number)
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as exc:
            problems.append(f"{label}:{number}: not a valid {what} ({_reason(exc)}; fix the line or re-pack)")
    if leaks:
        problems.append(
            f"{label}:{leaks[0]}: holds what looks like a secret key ({len(leaks)} line(s); remove it, re-pack, "
            "and rotate the key)"
        )
    return records


_SECRET_WORDS = ("apikey", "secret", "password", "passwd", "authorization", "credential", "privatekey", "accesskey")
_VOCAB_TOKENS = ("bos", "eos", "pad", "unk", "sep", "cls", "mask", "stop", "start", "end", "special")
_SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    # by prefix, short ones included: a test key or a truncated one is still a leak
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{6,}"  # OpenAI, Anthropic and look-alikes
    r"|hf_[A-Za-z0-9]{6,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{6,}|github_pat_[A-Za-z0-9_]{6,}"  # GitHub
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{10,}"  # Google
    r"|xox[abposr]-[A-Za-z0-9-]{6,}"  # Slack
    r"|gsk_[A-Za-z0-9]{6,}|r8_[A-Za-z0-9]{6,}|pplx-[A-Za-z0-9]{6,}"  # Groq, Replicate, Perplexity
    r"|Bearer\s+(?!REDACTED)[A-Za-z0-9._~+/=-]{6,}"
    r")"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|://[^/\s:@\"]+:(?!REDACTED@)[^/\s@\"]+@"  # user:password@ in a URL
    r"|[?&][A-Za-z_-]*(?:key|token|secret|sig|passw)[A-Za-z_-]*=(?!REDACTED)[^&\s\"]{4,}"  # ...?api_key=...
)


def _secret_key(key: str) -> bool:
    k = re.sub(r"[^a-z0-9]", "", key.lower())
    if any(word in k for word in _SECRET_WORDS) or k in ("auth", "bearer"):
        return True
    return k.endswith("token") and not any(k == w + "token" or k.endswith(w + "token") for w in _VOCAB_TOKENS)


def _walk(value: Any, where: str) -> Iterator[tuple[str, Any, str | None]]:
    """(location, value, key) for every node of a JSON value; key is the dict key that led there."""
    if isinstance(value, dict):
        for key, item in value.items():
            loc = f"{where}.{key}" if where else str(key)
            yield loc, key, None
            yield loc, item, str(key)
            yield from _walk(item, loc) if isinstance(item, dict | list) else ()
    elif isinstance(value, list):
        for i, item in enumerate(value):
            loc = f"{where}[{i}]"
            yield loc, item, None
            yield from _walk(item, loc) if isinstance(item, dict | list) else ()


def _check_secrets(data: dict[str, Any], problems: list[str]) -> None:
    """Submissions are public: a key that slipped into the settings must never be published."""
    fix = "remove it, re-pack, and rotate the key"
    flagged: set[str] = set()
    settings = data.get("backend_settings")
    if isinstance(settings, dict):
        for loc, _value, key in _walk(settings, "backend_settings"):
            if key is not None and _secret_key(key) and loc not in flagged:
                flagged.add(loc)
                problems.append(f"{MANIFEST}: {_show(loc)} is a secret-bearing setting ({fix})")
    for loc, value, _key in _walk(data, ""):
        if isinstance(value, str) and _SECRET_VALUE.search(value) and loc not in flagged:
            flagged.add(loc)
            problems.append(f"{MANIFEST}: {_show(loc)} holds what looks like a secret key ({fix})")


def _read_manifest(root: Path, problems: list[str]) -> SubmissionManifest | None:
    path = root / MANIFEST
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        problems.append(f"{MANIFEST}: not valid JSON ({exc}; re-pack with holobench submit pack)")
        return None
    if not isinstance(data, dict):
        problems.append(f"{MANIFEST}: must be a JSON object (re-pack with holobench submit pack)")
        return None
    _check_secrets(data, problems)
    try:
        return SubmissionManifest.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False)[:3]:
            loc = ".".join(str(part) for part in error["loc"]) or "(root)"
            problems.append(f"{MANIFEST}: field {loc}: {error['msg']} (fix the field or re-pack)")
        return None


def _duplicates(ids: Iterable[str]) -> set[str]:
    return {i for i, n in Counter(ids).items() if n > 1}


def _check_ids(
    manifest: SubmissionManifest, predictions: list[Prediction], scores: list[ScoreRecord], problems: list[str]
) -> None:
    """Predictions and scores describe the same instances, once each, from the run the manifest names."""
    pred_ids = [p.id for p in predictions]
    score_ids = [s.id for s in scores]
    for name, ids in ((PREDICTIONS, pred_ids), (SCORES, score_ids)):
        dups = _duplicates(ids)
        if dups:
            problems.append(f"{name}: duplicate id(s) {_few(dups)} (keep one record per instance)")
    unscored = set(pred_ids) - set(score_ids)
    if unscored:
        problems.append(f"{SCORES}: no score for id(s) {_few(unscored)} (score every prediction with holobench score)")
    orphans = set(score_ids) - set(pred_ids)
    if orphans:
        problems.append(f"{SCORES}: scores for id(s) {_few(orphans)} that have no prediction (re-score this run)")
    for name, count in ((PREDICTIONS, len(pred_ids)), (SCORES, len(score_ids))):
        if count != manifest.n_instances:
            problems.append(
                f"{name}: {count} records but {MANIFEST} n_instances is {manifest.n_instances}"
                " (submit the whole suite; re-pack from the complete run)"
            )
    scorers = Counter(s.scorer for s in scores if s.scorer != manifest.scorer)
    if scorers:
        problems.append(
            f"{SCORES}: {sum(scorers.values())} record(s) from scorer(s) {_few(scorers)} but {MANIFEST} says"
            f" {manifest.scorer!r} (score the whole run with one scorer)"
        )
    settings = Counter(s.scorer_version or "unrecorded" for s in scores)
    if len(settings) > 1:
        problems.append(
            f"{SCORES}: records from {len(settings)} scorer settings {_few(settings)} (one scoring of the run, please:"
            " re-score it whole)"
        )
    prompt_name = manifest.prompt.split("@", 1)[0]
    checks: list[tuple[str, Iterable[tuple[str, str, str]]]] = [
        (PREDICTIONS, ((p.id, "model", p.model) for p in predictions)),
        (PREDICTIONS, ((p.id, "backend", p.backend) for p in predictions)),
        (PREDICTIONS, ((p.id, "prompt", p.prompt) for p in predictions)),
        (SCORES, ((s.id, "model", s.model) for s in scores)),
        (SCORES, ((s.id, "backend", s.backend) for s in scores)),
    ]
    expected = {"model": manifest.model, "backend": manifest.backend, "prompt": prompt_name}
    for name, rows in checks:
        bad = [(iid, field, value) for iid, field, value in rows if value != expected[field]]
        if bad:
            iid, field, value = bad[0]
            problems.append(
                f"{name}: {len(bad)} record(s) with {field} {value!r} (e.g. id {_show(iid, 40)}) but {MANIFEST} says"
                f" {expected[field]!r} (submit one run of one model)"
            )


def _check_instances(
    manifest: SubmissionManifest, predictions: list[Prediction], instances: Path, problems: list[str]
) -> None:
    """The submission answers this suite's instances file: same bytes, every id exactly once."""
    try:
        digest = file_hash(instances)
    except OSError as exc:
        problems.append(f"{instances}: cannot read the instances file ({exc.strerror})")
        return
    if digest != manifest.instances_sha256:
        problems.append(
            f"{instances}: sha256 {digest[:12]}... differs from the submission's instances_sha256"
            f" {manifest.instances_sha256[:12]}... (run on this suite's instances file, or check the --instances path)"
        )
    suite_ids: list[str] = []
    with instances.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                if line.startswith(b'{"id":"') and b"\\" not in line[: line.index(b'"', 7)]:
                    suite_ids.append(line[7 : line.index(b'"', 7)].decode("utf-8"))  # written id first: no parse
                else:
                    suite_ids.append(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                problems.append(f"{instances}:{number}: not an instance record with an id (regenerate the suite)")
    pred_ids = {p.id for p in predictions}
    missing = set(suite_ids) - pred_ids
    extra = pred_ids - set(suite_ids)
    if missing:
        problems.append(
            f"{PREDICTIONS}: {len(missing)} instance(s) of the suite missing, e.g. {_few(missing)}"
            " (run the whole suite, or merge all shards)"
        )
    if extra:
        problems.append(
            f"{PREDICTIONS}: {len(extra)} id(s) not in the suite, e.g. {_few(extra)} (run on this suite's instances)"
        )


def _check_tree(root: Path, source: Path, entries: list[_Entry], instances: Path | None) -> Submission:
    """Content checks on a folder whose layout already passed; all problems reported together."""
    problems: list[str] = []
    manifest = _read_manifest(root, problems)
    predictions = _read_jsonl(root / PREDICTIONS, Prediction, "prediction", problems)
    scores = _read_jsonl(root / SCORES, ScoreRecord, "score record", problems)
    problems += score_problems(scores)
    if manifest is not None:
        _check_ids(manifest, predictions, scores, problems)
        if instances is not None:
            _check_instances(manifest, predictions, instances, problems)
            if not problems:  # rescoring needs the right suite and matching ids
                problems += rescore_problems(manifest.scorer, predictions, scores, instances)
    if problems or manifest is None:
        raise _fail(source, problems)
    flag = judge_disagreement(manifest.scorer, predictions, scores, instances) if instances is not None else None
    report = sorted(e.name.split("/", 1)[1] for e in entries if not e.is_dir and _is_report_file(e.name))
    return Submission(
        manifest=manifest,
        predictions=predictions,
        scores=scores,
        report=report,
        source=source,
        flags=(flag,) if flag else (),
    )


def _validate_folder(root: Path, source: Path, instances: Path | None) -> Submission:
    """Layout, then content; ``source`` is the name the messages use (the archive, not a scratch folder)."""
    problems: list[str] = []
    entries = _scan_dir(root, problems)
    _check_layout(entries, problems)
    if problems:
        raise _fail(source, problems)
    return _check_tree(root, source, entries, instances)


def validate(path: Path, instances: Path | None = None) -> Submission:
    """Check a submission folder or archive; raise one ``SubmissionError`` line listing what to fix.

    ``instances`` (the suite's instances JSONL) adds the suite checks: same file hash, every
    instance answered exactly once.
    """
    if path.is_dir():
        return _validate_folder(path, path, instances)
    kind = _archive_kind(path)
    if kind is None or not path.is_file():
        raise SubmissionError(
            f"{path}: not a submission folder or a .tar.gz/.tgz/.zip archive (pack one with holobench submit pack)"
        )
    if path.stat().st_size > MAX_TOTAL_BYTES:
        raise SubmissionError(f"{path}: archive is over {MAX_TOTAL_BYTES:,} bytes (drop report files)")
    problems: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="holobench-submission-"))
    try:
        if kind == "tar":
            _extract_tar(path, scratch, problems)
        else:
            _extract_zip(path, scratch, problems)
        if problems:
            raise _fail(path, problems)
        return _validate_folder(scratch, path, instances)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------------------------------- pack


def _load_json_object(path: Path, hint: str) -> dict[str, Any]:
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
    with tarfile.open(dest, "w:gz") as tf:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = (root / name).stat().st_size
            info.mode = 0o644
            info.mtime = int(mtime)
            with (root / name).open("rb") as fh:
                tf.addfile(info, fh)


def _write_zip(root: Path, names: list[str], dest: Path, when: datetime) -> None:
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            with (root / name).open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


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
    backend_settings = dict(settings)
    if "sampling" in run and "sampling" not in backend_settings:
        backend_settings["sampling"] = run["sampling"]  # decides the answers as much as the model does
    now = datetime.now(UTC).replace(microsecond=0)
    model = str(settings.get("model", ""))
    try:
        manifest = SubmissionManifest(
            format_version=1,
            holobench_version=str(run.get("holobench_version") or __version__),
            suite=suite,
            instances_sha256=str(run.get("instances_sha256", "")),
            n_instances=len(predictions),
            model=model,
            backend=settings["backend"],
            backend_settings=backend_settings,
            prompt=str(run.get("prompt", "")),
            scorer=scorers[0],
            created=now.isoformat().replace("+00:00", "Z"),
            label=label or model,
            notes=notes,
            versions={k: v for k, v in (("run", run.get("versions")), ("suite", run.get("suite_versions"))) if v},
        )
    except ValidationError as exc:
        raise SubmissionError(f"{run_dir}: cannot build the submission manifest ({_reason(exc)})") from exc
    reports = _report_files(report_dir) if report_dir is not None else []

    kind = _archive_kind(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    archive_tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        atomic_write_text(staging / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        with (staging / PREDICTIONS).open("w", encoding="utf-8") as fh:
            for pid in sorted(predictions):
                fh.write(predictions[pid].model_dump_json() + "\n")
        with (staging / SCORES).open("w", encoding="utf-8") as fh:
            for sid in sorted(score_by_id):
                fh.write(score_by_id[sid].model_dump_json() + "\n")
        names = list(REQUIRED)
        if reports:
            (staging / REPORT).mkdir()
            for src, name in reports:
                (staging / REPORT / name).parent.mkdir(exist_ok=True)
                shutil.copyfile(src, staging / REPORT / name)
                names.append(f"{REPORT}/{name}")
        _validate_folder(staging, out, None)  # a packed submission must pass the leaderboard's checks
        if kind is None:
            staging.chmod(0o755)  # mkdtemp makes it private; a submission folder is meant to be shared
            staging.rename(out)
            return out
        if kind == "tar":
            _write_tar(staging, names, archive_tmp, now.timestamp())
        else:
            _write_zip(staging, names, archive_tmp, now)
        archive_tmp.replace(out)
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive_tmp.unlink(missing_ok=True)
