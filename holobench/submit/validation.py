"""Reading a submission and checking its content, so only a sound one is ever published.

A submission holds exactly ``manifest.json``, ``predictions.jsonl``, ``scores.jsonl`` and,
optionally, ``report/`` with figures and tables.  Its layout is checked first (``archive``), then
every record parses, no secret key slipped in, predictions and scores describe the same
instances of one run, and, given the suite's instances file, the ids match the suite and
``match`` scores are recomputed.  All problems are reported together in one line.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from holobench.jsonl import file_hash
from holobench.prompts import CLOSED, PROMPTS, closed_book, prompt_version
from holobench.records import Prediction, ScoreRecord, SubmissionManifest
from holobench.scoring.trust import judge_disagreement, rescore_problems, score_problems
from holobench.submit.archive import (
    MANIFEST,
    PREDICTIONS,
    SCORES,
    _check_layout,
    _Entry,
    _fail,
    _few,
    _is_report_file,
    _scan_dir,
    _show,
    extracted,
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Submission:
    """A validated submission, read into memory (any extraction folder is already gone)."""

    manifest: SubmissionManifest
    predictions: list[Prediction]
    scores: list[ScoreRecord]
    report: list[str]  # file names inside report/
    source: Path
    flags: tuple[str, ...] = ()  # worth a look but not a reason to refuse (judge vs match)


def _reason(exc: ValidationError) -> str:
    """The first pydantic error as ``field: message``: enough to find the fault, on one line."""
    error = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in error["loc"])
    return f"{loc}: {error['msg']}" if loc else str(error["msg"])


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
    """Whether a setting's name says it holds a secret (``api_key``, ``hf_token``; not ``eos_token``)."""
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
    """The manifest, checked for secrets before its schema; None (with problems) when unusable."""
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
    """The ids that occur more than once."""
    return {i for i, n in Counter(ids).items() if n > 1}


def _check_ids(
    manifest: SubmissionManifest, predictions: list[Prediction], scores: list[ScoreRecord], problems: list[str]
) -> None:
    """Predictions and scores describe the same instances, once each, from the run the manifest names."""
    _check_instance_ids(manifest, predictions, scores, problems)
    _check_one_run(manifest, predictions, scores, problems)
    _check_closed_book(manifest, problems)


def _check_instance_ids(
    manifest: SubmissionManifest, predictions: list[Prediction], scores: list[ScoreRecord], problems: list[str]
) -> None:
    """One prediction and one score per instance, as many as the manifest declares."""
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


def _check_one_run(
    manifest: SubmissionManifest, predictions: list[Prediction], scores: list[ScoreRecord], problems: list[str]
) -> None:
    """Every record comes from the model, backend, prompt and scoring the manifest names: entries
    that mix runs or scorer settings cannot be compared."""
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
        (SCORES, ((s.id, "prompt", s.prompt) for s in scores)),
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


def _check_closed_book(manifest: SubmissionManifest, problems: list[str]) -> None:
    """A closed-book run keeps its ``+closed``: a prompt named open-book whose template hash is
    the closed-book template's is refused, so the probe cannot pass for a run that read the context."""
    name, _, digest = manifest.prompt.partition("@")
    if closed_book(name) or name not in PROMPTS or not digest:
        return
    if digest == prompt_version(name + CLOSED).partition("@")[2]:
        problems.append(
            f"{MANIFEST}: prompt {manifest.prompt!r} is the closed-book template under an open-book name"
            f" (submit it as {name + CLOSED}@{digest}, as holobench run --closed-book wrote it)"
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
    with extracted(path) as scratch:
        return _validate_folder(scratch, path, instances)
