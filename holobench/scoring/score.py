"""The ``match`` scorer over a run: :func:`~holobench.scoring.match.match` per prediction, and the
abstention rule for instances unanswerable by design."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from holobench.records import (
    Instance,
    Label,
    Prediction,
    ScoreRecord,
    score_of,
)
from holobench.scoring.match import DEFAULT_REL_TOL, MatchResult, match
from holobench.scoring.run import ScoreItem, Scorer, ScorerOptions, base_record, score_run, unscorable


def match_record(
    instance: Instance | ScoreItem, prediction: Prediction, rel_tol: float = DEFAULT_REL_TOL
) -> ScoreRecord:
    """One prediction's ``match`` record (skipped, failed and truncated ones kept apart)."""
    record = base_record(instance, prediction, "match")
    return unscorable(record, prediction) or match_labels(instance, prediction, record, rel_tol)


def match_labels(
    instance: Instance | ScoreItem, prediction: Prediction, record: ScoreRecord, rel_tol: float
) -> ScoreRecord:
    result = match(
        instance.gold.rows,
        prediction.response,
        prompt=prediction.prompt,
        categories=instance.categories,
        rel_tol=rel_tol,
        sql=instance.sql,
    )
    labels = result.labels
    if instance.answerable is False:
        labels = abstention_labels(result, prediction.response, prediction.prompt, rel_tol)
    return record.model_copy(
        update={
            "labels": labels,
            "score": score_of(labels),
            "precision": result.precision,
            "answer_items": len(result.answer.items),
            "answer": result.answer.text,
        }
    )


def abstention_labels(result: MatchResult, response: str | None, prompt: str, rel_tol: float) -> list[Label]:
    """An unanswerable instance is answered by saying there is no answer, or by its gold when
    that is what an answer over nothing is (a count of 0, an average of NULL): one judged row."""
    if result.labels and all(label is Label.EXACT for label in result.labels):
        return [Label.EXACT]
    return match([], response, prompt=prompt, rel_tol=rel_tol).labels[:1]


def match_version(rel_tol: float) -> str:
    return f"rel_tol={rel_tol:g}"


def rel_tol_of(version: str | None) -> float:
    """The tolerance a ``match`` scoring declared (the default for records older than the field)."""
    if version and version.startswith("rel_tol="):
        try:
            return float(version.removeprefix("rel_tol="))
        except ValueError:
            pass
    return DEFAULT_REL_TOL


class MatchScorer(Scorer):
    """Deterministic and offline: the README's rules, at ``rel_tol``."""

    name = "match"

    def __init__(self, rel_tol: float = DEFAULT_REL_TOL) -> None:
        self.rel_tol = rel_tol

    @classmethod
    def from_options(cls, options: ScorerOptions) -> MatchScorer:
        return cls(options.rel_tol)

    @property
    def version(self) -> str:
        return match_version(self.rel_tol)

    def score(self, item: ScoreItem, prediction: Prediction, record: ScoreRecord) -> ScoreRecord:
        return match_labels(item, prediction, record, self.rel_tol)


def score_match(
    instances: Path,
    predictions: Path,
    out: Path | None = None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a run with the deterministic scorer and write records and summary."""
    return asyncio.run(score_run(MatchScorer(rel_tol), instances, predictions, out, progress=progress))
