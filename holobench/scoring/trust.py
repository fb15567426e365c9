"""Submitted scores are claims: check them, and recompute what can be recomputed.

A submission carries its own ``scores.jsonl``; a leaderboard that ranks those numbers ranks
whatever was typed into them. Every score record must be consistent on its own (a scored record
has labels, and a score in [0, 1] equal to what its labels give; skipped and failed ones have
none), and with the suite's instances at hand every ``match`` score is recomputed from the
prediction and the gold answer, so a submission whose scores differ is refused. A ``judge``
score cannot be re-judged offline: its labels are checked as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from holobench.jsonl import read_instances
from holobench.records import Prediction, ScoreRecord, score_of
from holobench.scoring.run import ScoreItem
from holobench.scoring.score import match_record, rel_tol_of

SCORES = "scores.jsonl"
TOLERANCE = 1e-6


def _few(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(i[:40]) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def score_problems(scores: Sequence[ScoreRecord]) -> list[str]:
    """What is wrong with the records on their own, one message per kind of fault."""
    out_of_range, inconsistent, unlabelled, stray = [], [], [], []
    for record in scores:
        if record.status != "scored":
            if record.score is not None:
                stray.append(record.id)
            continue
        if record.score is None or not math.isfinite(record.score) or not 0.0 <= record.score <= 1.0:
            out_of_range.append(record.id)
        elif not record.labels:
            unlabelled.append(record.id)
        elif abs(record.score - score_of(record.labels)) > TOLERANCE:
            inconsistent.append(record.id)
    problems = []
    if out_of_range:
        problems.append(f"{SCORES}: score missing or outside [0, 1] for {_few(out_of_range)} (re-score the run)")
    if unlabelled:
        problems.append(f"{SCORES}: scored record(s) without labels: {_few(unlabelled)} (re-score the run)")
    if inconsistent:
        problems.append(
            f"{SCORES}: {len(inconsistent)} score(s) disagree with their own labels, e.g. {_few(inconsistent)}"
            " (re-score the run; scores are never edited by hand)"
        )
    if stray:
        problems.append(f"{SCORES}: skipped or failed record(s) with a score: {_few(stray)} (re-score the run)")
    return problems


def rescore_problems(
    scorer: str, predictions: Sequence[Prediction], scores: Sequence[ScoreRecord], instances: Path
) -> list[str]:
    """``match`` scores recomputed from the predictions and the gold in ``instances``."""
    if scorer != "match":
        return []
    declared = {s.scorer_version for s in scores}
    rel_tol = rel_tol_of(declared.pop()) if len(declared) == 1 else rel_tol_of(None)  # its own setting
    by_id = {p.id: p for p in predictions}
    submitted = {s.id: s for s in scores}
    differ: list[str] = []
    example = ""
    for instance in read_instances(instances, lambda i: i not in by_id, ScoreItem):
        mine = match_record(instance, by_id[instance.id], rel_tol)
        theirs = submitted.get(instance.id)
        if theirs is None:
            continue  # reported by the id checks
        same_status = mine.status == theirs.status
        same_score = (mine.score is None and theirs.score is None) or (
            mine.score is not None and theirs.score is not None and abs(mine.score - theirs.score) <= TOLERANCE
        )
        if not (same_status and same_score):
            differ.append(instance.id)
            if not example:
                example = f"{instance.id[:40]!r}: submitted {theirs.score}, rescored {mine.score}"
    if not differ:
        return []
    return [
        f"{SCORES}: {len(differ)} score(s) differ from match rescored against the suite's gold (e.g. {example})"
        " (re-score with holobench score and re-pack)"
    ]


#: Mean |judge - match| per instance above which a judge-scored submission is flagged. On the
#: project's calibration sets the two scorers differ by well under 0.1 on average; a judge that
#: is far more generous (or harsher) than the deterministic reading deserves a second look.
JUDGE_FLAG = 0.2


def judge_disagreement(
    scorer: str, predictions: Sequence[Prediction], scores: Sequence[ScoreRecord], instances: Path
) -> str | None:
    """A flag (not a refusal) when submitted ``judge`` scores stray far from ``match`` rescoring."""
    if scorer != "judge":
        return None
    by_id = {p.id: p for p in predictions}
    submitted = {s.id: s for s in scores if s.status == "scored" and s.score is not None}
    gaps: list[tuple[float, str]] = []
    for instance in read_instances(instances, lambda i: i not in submitted or i not in by_id, ScoreItem):
        mine = match_record(instance, by_id[instance.id])
        if mine.score is not None:
            gaps.append((abs(mine.score - (submitted[instance.id].score or 0.0)), instance.id))
    if not gaps:
        return None
    mean = sum(g for g, _ in gaps) / len(gaps)
    if mean <= JUDGE_FLAG:
        return None
    worst = max(gaps)
    return (
        f"judge scores differ from match rescoring by {mean:.3f} per instance on average over {len(gaps)} "
        f"instances (flagged above {JUDGE_FLAG}; largest {worst[0]:.2f} on {worst[1][:40]!r}); check the judge"
    )
