"""What the viewer shows, assembled from run folders and their instances file.

The site is static and opens from ``file://``, where a page may not fetch files: every piece of
data is a JavaScript file that assigns one JSON value (``data/index.js`` for the sample table,
``data/i/<file>.js`` per instance, loaded on demand by ``instance.html``). The pages only ever put
that data into the DOM as text, so nothing a run or a submission holds is executed or parsed as HTML.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from holobench.aggregate import run_labels
from holobench.errors import HoloBenchError
from holobench.jsonl import file_hash
from holobench.records import Instance, Prediction, RunManifest, ScoreRecord
from holobench.scoring.run import SCORES_FILE, load_predictions, read_scores

#: How much of an extracted answer the sample table keeps for its search box.
ANSWER_PREVIEW = 400


class RunInfo(BaseModel):
    """One run as the viewer names it."""

    label: str
    path: str
    backend: str
    model: str
    prompt: str
    scorer: str | None
    scored: int
    mean: float | None


class Cell(BaseModel):
    """One run's outcome on one instance, as the sample table shows it (None: not in this run)."""

    status: str
    score: float | None = None
    exact: int = 0
    partial: int = 0
    no: int = 0
    answer: str = ""


class Sample(BaseModel):
    """One row of the sample table."""

    id: str
    file: str
    db: str
    query: str
    category: str
    categories: list[str]
    question: str
    length: int
    setting: str
    level: float
    placement: str
    answerable: bool | None
    gold_rows: int
    positions: list[list[tuple[int, float, float]]] = Field(
        default_factory=list,
        description="per run: (decile, gold rows carried there, credit found there), each judged gold row "
        "spread evenly over the lines that carry it",
    )
    runs: list[Cell | None]


class RunView(BaseModel):
    """One run's full record of one instance, for its page."""

    status: str
    response: str | None = None
    reasoning: str | None = None
    answer: str | None = None
    labels: list[str] = Field(default_factory=list)
    score: float | None = None
    precision: float | None = None
    reason: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    attempts: int = 0
    cached: bool = False


class InstanceView(BaseModel):
    """Everything an instance page shows; ``kinds`` has one letter per context line: ``r``
    relevant, ``a`` auxiliary (same database), ``f`` filler (another database)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    db: str
    query: str
    question: str
    sql: str
    categories: list[str]
    difficulty: str
    config: dict[str, object]
    stats: dict[str, object]
    answerable: bool | None
    columns: list[str]
    gold: list[list[object]]
    lines: list[str]
    kinds: str
    tables: list[str]
    line_table: list[int]
    carriers: list[list[int]]
    run_labels: list[str]
    runs: list[RunView | None]


@dataclass
class LoadedRun:
    info: RunInfo
    predictions: dict[str, Prediction]
    scores: dict[str, ScoreRecord]
    manifest: RunManifest


def file_name(instance_id: str) -> str:
    """A file name for an instance id that is safe on every file system and unique."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", instance_id)[:60].strip("._") or "instance"
    return f"{readable}-{hashlib.sha256(instance_id.encode('utf-8')).hexdigest()[:10]}"


def loaded(
    label: str,
    path: str,
    predictions: Collection[Prediction],
    records: Collection[ScoreRecord],
    manifest: RunManifest,
    scorer: str,
) -> LoadedRun:
    """A run from its records, wherever they were read (a run folder, a validated submission)."""
    scored = [r.score for r in records if r.score is not None]
    first = next(iter(predictions), None)
    info = RunInfo(
        label=label,
        path=path,
        backend=first.backend if first else str(manifest.backend.get("backend", "?")),
        model=first.model if first else str(manifest.backend.get("model", "?")),
        prompt=first.prompt if first else str(manifest.prompt or "?"),
        scorer=scorer if records else None,
        scored=len(scored),
        mean=sum(scored) / len(scored) if scored else None,
    )
    return LoadedRun(info, {p.id: p for p in predictions}, {r.id: r for r in records}, manifest)


def load_run(path: Path, scorer: str) -> LoadedRun:
    """A run folder: its predictions, manifest and (when scored) its ``scorer`` records."""
    predictions, manifest = load_predictions(path)
    # a run folder keeps its scores under scores/<scorer>/; a submission folder beside its predictions
    found = [f for f in (path / "scores" / scorer / SCORES_FILE, path / SCORES_FILE) if path.is_dir() and f.is_file()]
    records = read_scores(found[0]) if found else []
    return loaded(path.name, str(path), list(predictions.values()), records, manifest, scorer)


def label_runs(runs: Sequence[LoadedRun]) -> None:
    """Names that tell the runs apart: what differs between them (model, prompt, ...), else the folder."""
    if all(r.scores for r in runs):
        labels = run_labels([list(r.scores.values()) for r in runs])
    else:
        labels = [r.info.model for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({r.info.label})" for label, r in zip(labels, runs, strict=True)]
    for label, run in zip(labels, runs, strict=True):
        run.info.label = label


def instances_file(runs: Sequence[LoadedRun], given: Path | None) -> tuple[Path, str]:
    """The instances file every run answered (``given``, else the one their manifests name) and
    its sha256, which the viewer's manifest records too."""
    if given is None:
        named = [Path(r.manifest.instances) for r in runs if r.manifest.instances]
        found = next((p for p in named if p.is_file()), None)
        if found is None:
            where = runs[0].info.path
            raise HoloBenchError(
                f"{where}: its manifest names no instances file that exists here; pass --instances PATH"
            )
        given = found
    path = given / "instances.jsonl" if given.is_dir() else given
    if not path.is_file():
        raise HoloBenchError(f"{given}: no instances file here; pass the suite's instances.jsonl with --instances")
    digest = file_hash(path)
    other = next((r for r in runs if r.manifest.instances_sha256 not in (None, digest)), None)
    if other is not None:
        raise HoloBenchError(
            f"{other.info.path}: answered another instances file than {path} (the sha256 differs); "
            "view runs of one suite together, and pass that suite's instances with --instances"
        )
    return path, digest


def cell(run: LoadedRun, instance_id: str) -> Cell | None:
    prediction = run.predictions.get(instance_id)
    record = run.scores.get(instance_id)
    if prediction is None and record is None:
        return None
    if record is None:
        status = "unscored" if prediction is not None and prediction.status == "ok" else _status(prediction)
        return Cell(status=status)
    return Cell(
        status=record.status,
        score=record.score,
        exact=record.exact,
        partial=record.partial,
        no=len(record.labels) - record.exact - record.partial,
        answer=(record.answer or "")[:ANSWER_PREVIEW],
    )


def _status(prediction: Prediction | None) -> str:
    if prediction is None:
        return "missing"
    return {"error": "failed", "skipped": "skipped"}.get(prediction.status, prediction.status)


def run_view(run: LoadedRun, instance_id: str) -> RunView | None:
    prediction = run.predictions.get(instance_id)
    record = run.scores.get(instance_id)
    if prediction is None and record is None:
        return None
    view = RunView(status=(cell(run, instance_id) or Cell(status="missing")).status)
    if prediction is not None:
        view = view.model_copy(
            update={
                "response": prediction.response,
                "reasoning": prediction.reasoning,
                "error": prediction.error or prediction.skip_reason,
                "finish_reason": prediction.finish_reason,
                "prompt_tokens": prediction.usage.prompt_tokens,
                "completion_tokens": prediction.usage.completion_tokens,
                "latency_s": prediction.latency_s,
                "cost_usd": prediction.cost_usd,
                "attempts": prediction.attempts,
                "cached": prediction.cached,
            }
        )
    if record is not None:
        view = view.model_copy(
            update={
                "answer": record.answer,
                "labels": [label.value for label in record.labels],
                "score": record.score,
                "precision": record.precision,
                "reason": record.reason,
            }
        )
    return view


def line_kinds(instance: Instance) -> tuple[str, list[str], list[int]]:
    """One letter per line, the tables the lines come from, and each line's table index."""
    tables: dict[str, int] = {}
    kinds, index = [], []
    for source in instance.lines:
        name = f"{source.db}.{source.table}" if source.db else source.table
        index.append(tables.setdefault(name, len(tables)))
        kinds.append("r" if source.relevant else "f" if source.db else "a")
    return "".join(kinds), list(tables), index


def instance_view(instance: Instance, runs: Sequence[LoadedRun], carriers: list[list[int]]) -> InstanceView:
    kinds, tables, line_table = line_kinds(instance)
    lines = instance.context.split("\n") if instance.context else []
    if len(lines) != len(instance.lines):
        raise HoloBenchError(
            f"instance {instance.id}: its context has {len(lines)} lines but its provenance {len(instance.lines)}; "
            "regenerate the suite"
        )
    return InstanceView(
        id=instance.id,
        db=instance.db_id,
        query=instance.query_id,
        question=instance.question,
        sql=instance.sql,
        categories=[c.value for c in instance.categories],
        difficulty=instance.difficulty.value,
        config=instance.config.model_dump(mode="json", exclude_none=True),
        stats=instance.stats.model_dump(mode="json", exclude_none=True),
        answerable=instance.answerable,
        columns=list(instance.gold.columns),
        gold=[list(row) for row in instance.gold.rows],
        lines=lines,
        kinds=kinds,
        tables=tables,
        line_table=line_table,
        carriers=carriers,
        run_labels=[run.info.label for run in runs],
        runs=[run_view(run, instance.id) for run in runs],
    )


def sample(instance: Instance, runs: Sequence[LoadedRun], positions: list[list[tuple[int, float, float]]]) -> Sample:
    config = instance.config
    return Sample(
        id=instance.id,
        file=file_name(instance.id),
        db=instance.db_id,
        query=instance.query_id,
        category=instance.categories[0].value if instance.categories else "",
        categories=[c.value for c in instance.categories],
        question=instance.question,
        length=config.target_tokens,
        setting=config.setting,
        level=config.level,
        placement=config.placement.value,
        answerable=instance.answerable,
        gold_rows=len(instance.gold.rows),
        positions=positions,
        runs=[cell(run, instance.id) for run in runs],
    )
