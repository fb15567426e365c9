"""What a suite measures, before any model answers it: gold shapes and trivial baselines.

A benchmark whose gold is often empty rewards a model for saying "No answer"; one whose joins
rarely join measures nothing about joins. The audit reads an instances file and reports, per
database and per category: the share of empty gold, of a lone ``0``/``NULL`` cell, the gold-size
distribution, the unanswerable share, for joins the share with a non-empty answer, for a
counterfactual suite the share of answers its perturbation changed, and the score
of three answers that need no context, scored offline with ``match``: always "No answer",
always "0", and each query's most common gold answer. Queries whose gold is degenerate in most
of their cells are flagged.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import fmean, median
from typing import Any

from pydantic import BaseModel, Field

from holobench.errors import HoloBenchError
from holobench.jsonl import read_instances
from holobench.records import Category, GoldView, score_of
from holobench.sampling import degenerate_rows
from holobench.scoring.match import DEFAULT_REL_TOL, match
from holobench.scoring.score import abstention_labels
from holobench.verify import Change, original_changes

BASELINES = ("no-answer", "zero", "modal")


#: The part of an instance the audit reads (the context is skipped by the parser).
AuditItem = GoldView


class AuditRow(BaseModel):
    """One line of an audit table (a database, a category, or everything)."""

    group: str
    instances: int
    unanswerable: float
    empty_gold: float
    lone_zero_or_null: float
    gold_rows_mean: float
    gold_rows_median: float
    gold_rows_max: int
    join_non_empty: float | None
    no_answer: float
    zero: float
    modal: float
    changed_answers: float | None = Field(
        default=None,
        description="counterfactual suites: share of non-empty answerable gold answers that differ from the "
        "same query on the original database over the same rows",
    )
    changed_cells: float | None = Field(default=None, description="the same, as a share of gold cells")


class Audit(BaseModel):
    instances: int
    overall: AuditRow
    by_database: list[AuditRow]
    by_category: list[AuditRow]
    flagged_queries: dict[str, float]  # query id -> share of its cells with degenerate gold


def _render(rows: Sequence[Sequence[Any]]) -> str:
    return "\n".join(", ".join("NULL" if v is None else str(v) for v in row) for row in rows) or "No answer"


def _score(item: AuditItem, answer: str) -> float:
    response = f"Final answer: {answer}"
    result = match(item.gold.rows, response, categories=item.categories, sql=item.sql)
    labels = result.labels
    if item.answerable is False:
        labels = abstention_labels(result, response, "cot", DEFAULT_REL_TOL)
    return score_of(labels)


def audit_items(
    items: Iterable[AuditItem], flag_above: float = 0.5, changes: Mapping[str, Change] | None = None
) -> Audit:
    """The audit of ``items``; ``changes`` (perturbed suites, from ``verify.original_changes``)
    adds how many answers the perturbation changed."""
    items = list(items)
    if not items:
        raise HoloBenchError("nothing to audit: the instances file is empty")
    by_query: dict[str, list[AuditItem]] = defaultdict(list)
    for item in items:
        by_query[item.query_id].append(item)
    modal = {
        q: Counter(json.dumps(i.gold.rows) for i in group if i.answerable is not False).most_common(1)
        for q, group in by_query.items()
    }
    scores: dict[str, dict[str, float]] = {}
    for item in items:
        common = modal[item.query_id]
        modal_rows = json.loads(common[0][0]) if common else []
        scores[item.id] = {
            "no-answer": _score(item, "No answer"),
            "zero": _score(item, "0"),
            "modal": _score(item, _render(modal_rows)),
        }
    databases = sorted({i.db_id for i in items})
    row = functools.partial(_row, scores=scores, changes=changes or {})
    return Audit(
        instances=len(items),
        overall=row("all", items),
        by_database=[row(d, [i for i in items if i.db_id == d]) for d in databases],
        by_category=[row(c.value, group) for c in Category if (group := [i for i in items if c in i.categories])],
        flagged_queries=_flagged(by_query, flag_above),
    )


def _flagged(by_query: dict[str, list[AuditItem]], above: float) -> dict[str, float]:
    """Queries whose answerable cells have degenerate gold more often than ``above``."""
    out = {}
    for query_id, group in sorted(by_query.items()):
        answerable = [degenerate_rows(i.gold.rows) for i in group if i.answerable is not False]
        if answerable and fmean(answerable) > above:
            out[query_id] = round(fmean(answerable), 4)
    return out


def _row(
    group: str, items: list[AuditItem], scores: dict[str, dict[str, float]], changes: Mapping[str, Change]
) -> AuditRow:
    if not items:
        return AuditRow(
            group=group, instances=0, unanswerable=0, empty_gold=0, lone_zero_or_null=0, gold_rows_mean=0,
            gold_rows_median=0, gold_rows_max=0, join_non_empty=None, no_answer=0, zero=0, modal=0,
        )  # fmt: skip
    sizes = [len(i.gold.rows) for i in items]
    joins = [bool(i.gold.rows) for i in items if Category.JOIN in i.categories and i.answerable is not False]

    def share(flags: Iterable[bool]) -> float:
        values = list(flags)
        return round(fmean(values), 4) if values else 0.0

    return AuditRow(
        group=group,
        instances=len(items),
        unanswerable=share(i.answerable is False for i in items),
        empty_gold=share(not i.gold.rows for i in items),
        lone_zero_or_null=share(bool(i.gold.rows) and degenerate_rows(i.gold.rows) for i in items),
        gold_rows_mean=round(fmean(sizes), 2),
        gold_rows_median=float(median(sizes)),
        gold_rows_max=max(sizes),
        join_non_empty=share(joins) if joins else None,
        **{b.replace("-", "_"): round(fmean(scores[i.id][b] for i in items), 4) for b in BASELINES},
        **_changed(items, changes),
    )


def _changed(items: list[AuditItem], changes: Mapping[str, Change]) -> dict[str, float]:
    """Over non-empty answerable gold answers of perturbed instances: the share that the
    perturbation changed, and the share of their cells."""
    found = [changes[i.id] for i in items if i.id in changes and i.gold.rows and i.answerable is not False]
    if not found:
        return {}
    cells = sum(c.cells for c in found)
    return {
        "changed_answers": round(fmean(c.differs for c in found), 4),
        "changed_cells": round(sum(c.changed_cells for c in found) / cells, 4) if cells else 0.0,
    }


def audit_file(path: Path) -> Audit:
    """Audit an instances file, or the ``instances.jsonl`` of a suite folder."""
    target = path / "instances.jsonl" if path.is_dir() else path
    items = list(read_instances(target, None, AuditItem))
    perturbed = any(i.perturbation is not None for i in items)
    return audit_items(items, changes=original_changes(target) if perturbed else None)


def write_into_manifest(audit: Audit, suite_dir: Path) -> None:
    """Add the audit to a suite folder's manifest (rewritten atomically)."""
    from holobench._io import atomic_write_text

    manifest_path = suite_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["audit"] = audit.model_dump(mode="json")
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
