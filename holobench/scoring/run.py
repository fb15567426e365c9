"""Scoring a run: instances + predictions -> score records and a summary, never calling the model.

A scorer (:class:`Scorer`) writes one method from an instance and its prediction to a score
record; :func:`score_run` owns the loop for every scorer: it reads the run and its manifest,
pairs predictions with instances, keeps skipped, failed and truncated predictions apart, and
writes ``<out>/scores.jsonl`` (one record per prediction, in instance order) and
``<out>/summary.json``, each to a temporary name first, so a crash leaves either the previous
scores or the new ones.
"""

from __future__ import annotations

import abc
import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from statistics import fmean
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from holobench._io import atomic_write_text
from holobench.environment import versions
from holobench.errors import HoloBenchError
from holobench.journal import Journal
from holobench.jsonl import file_hash, read_instances, read_jsonl, write_jsonl
from holobench.records import (
    MAX_JUDGED_ROWS,
    GoldView,
    Instance,
    InstanceConfig,
    Label,
    Prediction,
    RunManifest,
    ScoreRecord,
    ScoreSummary,
)
from holobench.scoring.match import has_final_answer

ItemT = TypeVar("ItemT", Instance, "ScoreItem")


SCORES_FILE = "scores.jsonl"


SUMMARY_FILE = "summary.json"


def load_predictions(path: Path) -> tuple[dict[str, Prediction], RunManifest]:
    """Predictions from a run folder (with its manifest) or a bare predictions.jsonl (whose
    manifest, when there is none, is empty)."""
    journal = path / "predictions.jsonl" if path.is_dir() else path
    if not journal.is_file():
        raise HoloBenchError(f"{path}: no predictions.jsonl here; pass a run folder from 'holobench run' or the file")
    manifest = RunManifest()
    manifest_path = journal.parent / "manifest.json"
    if manifest_path.is_file():
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest = RunManifest.model_validate(data if isinstance(data, dict) else {})
        except ValueError as exc:
            raise HoloBenchError(
                f"{manifest_path}: not JSON ({exc}); restore it or score the predictions file"
            ) from exc
    return Journal(journal).load(repair=False), manifest


def default_out(predictions: Path, scorer: str) -> Path:
    base = predictions if predictions.is_dir() else predictions.parent
    return base / "scores" / scorer


class ScoreItem(GoldView):
    """The part of an instance a score record needs: the parser skips the context and the line
    provenance, which are most of a long instance's bytes (reading whole 128k-token instances
    took five times as long as matching their answers)."""

    config: InstanceConfig


def base_record(instance: Instance | ScoreItem, prediction: Prediction, scorer: str) -> ScoreRecord:
    """The record's identity and grid coordinates, before any verdict."""
    config = instance.config
    recall = (prediction.retrieval or {}).get("recall")
    return ScoreRecord(
        id=instance.id,
        query_id=instance.query_id,
        db_id=instance.db_id,
        categories=instance.categories,
        target_tokens=config.target_tokens,
        setting=config.setting,
        level=config.level,
        placement=config.placement,
        backend=prediction.backend,
        model=prediction.model,
        prompt=prediction.prompt,
        scorer=scorer,
        status="scored",
        gold_rows=len(instance.gold.rows),
        retrieval_recall=float(recall) if isinstance(recall, int | float) else None,
        answerable=instance.answerable,
        counterfactual=instance.perturbation is not None,
    )


def unscorable(record: ScoreRecord, prediction: Prediction) -> ScoreRecord | None:
    """Skipped and failed predictions are kept apart with their reason, never scored as zero."""
    if prediction.status == "skipped":
        return record.model_copy(update={"status": "skipped", "reason": prediction.skip_reason or "skipped"})
    if prediction.status == "error":
        return record.model_copy(update={"status": "failed", "reason": prediction.error or "request failed"})
    if prediction.finish_reason == "length" and not has_final_answer(prediction.response, prediction.prompt):
        reason = "the reply hit the token limit before a final answer (finish_reason length); raise --max-tokens"
        return record.model_copy(update={"status": "truncated", "reason": reason})
    return None


def judged_count(gold_rows: int) -> int:
    return max(1, min(gold_rows, MAX_JUDGED_ROWS))


def pair(instances: Path, predictions: dict[str, Prediction], model: type[ItemT]) -> Iterable[tuple[ItemT, Prediction]]:
    """Instances that have a prediction, in the instances file's order (read as ``model``)."""
    wanted = set(predictions)
    seen: set[str] = set()
    for instance in read_instances(instances, lambda i: i not in wanted, model):
        if instance.id in seen:
            raise HoloBenchError(
                f"{instances}: instance id {instance.id!r} appears twice; regenerate the suite (one id, one instance)"
            )
        seen.add(instance.id)
        yield instance, predictions[instance.id]
    stray = sorted(wanted - seen)
    if stray:
        raise HoloBenchError(
            f"{instances}: has no instance {stray[0]!r} (and {len(stray) - 1} more predicted ids); "
            "score with the instances file the run used"
        )


def check_instances(instances: Path, manifest: RunManifest) -> None:
    expected = manifest.instances_sha256
    if expected and file_hash(instances) != expected:
        raise HoloBenchError(
            f"{instances}: not the instances file this run used (its sha256 differs from the run manifest's); "
            f"pass {manifest.instances or 'the original file'}"
        )


def _answerability(scored: list[ScoreRecord]) -> dict[str, Any]:
    """Answer accuracy on answerable instances and abstention accuracy on unanswerable ones
    (instances of uniform sampling count as answerable: nothing withheld them)."""
    answerable = [r.score or 0.0 for r in scored if r.answerable is not False]
    withheld = [r.score or 0.0 for r in scored if r.answerable is False]
    return {
        "answerable": len(answerable),
        "unanswerable": len(withheld),
        "answer_accuracy": round(fmean(answerable), 6) if answerable else None,
        "abstention_accuracy": round(fmean(withheld), 6) if withheld else None,
    }


def summarize(records: list[ScoreRecord], missing: int = 0) -> dict[str, Any]:
    scored = [r for r in records if r.status == "scored"]
    status = Counter(r.status for r in records)
    labels = Counter(label.value for r in scored for label in r.labels)
    precision = [r.precision for r in scored if r.precision is not None]
    by_category: dict[str, list[float]] = {}
    for r in scored:
        for c in r.categories:
            by_category.setdefault(c.value, []).append(r.score or 0.0)
    first = records[0] if records else None
    return {
        "scorer": first.scorer if first else None,
        "backend": first.backend if first else None,
        "model": first.model if first else None,
        "prompt": first.prompt if first else None,
        "instances": len(records) + missing,
        "scored": status["scored"],
        "skipped": status["skipped"],
        "failed": status["failed"],
        "truncated": status["truncated"],
        "missing": missing,
        "mean_score": round(fmean(r.score or 0.0 for r in scored), 6) if scored else None,
        "mean_precision": round(fmean(precision), 6) if precision else None,
        "labels": {label.value: labels[label.value] for label in Label},
        "by_category": {c: round(fmean(v), 6) for c, v in sorted(by_category.items())},
        **_answerability(scored),
        "skip_reasons": dict(Counter(r.reason or "" for r in records if r.status == "skipped")),
    }


def write_scores(out: Path, records: list[ScoreRecord], summary: dict[str, Any], libraries: Sequence[str] = ()) -> None:
    """Records and summary; the summary also records the versions that decided the scores."""
    summary = {**summary, "versions": versions(libraries)}
    ScoreSummary.model_validate(summary)  # the shape every reader of summary.json expects
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / SCORES_FILE, records)
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2, sort_keys=True) + "\n")


def read_scores(path: Path) -> list[ScoreRecord]:
    """Score records from a score folder or a scores.jsonl; a bad line names its number."""
    file = path / SCORES_FILE if path.is_dir() else path
    if not file.is_file():
        raise HoloBenchError(f"{path}: no {SCORES_FILE}; run 'holobench score' on the run first")
    return list(read_jsonl(file, ScoreRecord, record="a score record", file="a scores.jsonl", records="scores"))


def count_ids(instances: Path) -> int:
    with instances.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


class ScorerOptions(BaseModel):
    """What the command line can set for a scorer; each scorer reads its own part."""

    model_config = ConfigDict(extra="forbid")

    rel_tol: float = Field(default=0.01, ge=0, le=1, description="match: relative tolerance for non-integer numbers")
    judge: dict[str, Any] | None = Field(default=None, description="judge: the JudgeConfig fields")


class Scorer(abc.ABC):
    """One module plus one registry line (``holobench/scoring/registry.py``): implement
    :meth:`score` (or :meth:`ascore` for a scorer that waits on a model) and :attr:`version`."""

    name: ClassVar[str] = "scorer"

    #: how each instance is read: :class:`ScoreItem` (the gold answer only, fast on long
    #: instances) or :class:`~holobench.records.Instance` (with the question and context)
    reads: ClassVar[type[ScoreItem] | type[Instance]] = ScoreItem

    #: whether :meth:`ascore` calls may run at once (a model judge); else one after another
    concurrent: ClassVar[bool] = False

    @classmethod
    def from_options(cls, options: ScorerOptions) -> Scorer:
        """Built from the command line's settings (the registry calls this)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from options")

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """The settings every record carries (``scorer_version``), so two scorings are never mixed."""

    def score(self, item: Any, prediction: Prediction, record: ScoreRecord) -> ScoreRecord:
        """The verdict on an answered prediction, filled into ``record`` (identity and grid
        coordinates are set already; skipped, failed and truncated ones never get here)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither score nor ascore")

    async def ascore(self, item: Any, prediction: Prediction, record: ScoreRecord) -> ScoreRecord:
        return self.score(item, prediction, record)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Before the first prediction (load a judge model)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """After the last, even on failure."""

    def summary(self) -> dict[str, Any]:
        """Extra totals for ``summary.json`` (a judge's requests and cost)."""
        return {}

    def libraries(self) -> tuple[str, ...]:
        """Distributions whose versions decided the scores, for ``summary.json``."""
        return ()


async def score_run(
    scorer: Scorer,
    instances: Path,
    predictions: Path,
    out: Path | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a run with ``scorer`` and write its records and summary; returns the summary."""
    found, manifest = load_predictions(predictions)
    check_instances(instances, manifest)
    records: list[ScoreRecord] = []
    pending: list[tuple[int, Any, Prediction]] = []
    view: type[ScoreItem] = scorer.reads  # type: ignore[assignment]  # either view has what a record needs
    for item, prediction in pair(instances, found, view):
        record = base_record(item, prediction, scorer.name)
        records.append(unscorable(record, prediction) or record)
        if records[-1] is record:
            pending.append((len(records) - 1, item, prediction))
    done = 0

    async def one(index: int, item: Any, prediction: Prediction) -> None:
        nonlocal done
        records[index] = await scorer.ascore(item, prediction, records[index])
        done += 1
        if progress is not None:
            progress(done, len(pending))

    await scorer.start()
    try:
        if scorer.concurrent:
            await asyncio.gather(*(one(*p) for p in pending))
        else:
            for p in pending:
                await one(*p)
    finally:
        await scorer.stop()
    final = [r.model_copy(update={"scorer_version": scorer.version}) for r in records]
    summary = {**summarize(final, missing=count_ids(instances) - len(final)), **scorer.summary()}
    write_scores(out or default_out(predictions, scorer.name), final, summary, scorer.libraries())
    return summary
