"""Agreement between two scorings of the same predictions (``match`` against ``judge``, or a scorer
against hand labels): per-label agreement, a confusion matrix and Cohen's kappa."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from holobench.records import Label, ScoreRecord

LABELS = tuple(Label)


def cohen_kappa(pairs: Sequence[tuple[Label, Label]]) -> float | None:
    """Agreement beyond chance: (p_o - p_e) / (1 - p_e); None when undefined (no pairs, or both
    raters always give one and the same label)."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a is b for a, b in pairs) / n
    left = Counter(a for a, _ in pairs)
    right = Counter(b for _, b in pairs)
    expected = sum(left[label] * right[label] for label in LABELS) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(pairs: Sequence[tuple[Label, Label]]) -> dict[str, Any]:
    n = len(pairs)
    confusion = {a.value: {b.value: 0 for b in LABELS} for a in LABELS}
    for a, b in pairs:
        confusion[a.value][b.value] += 1
    kappa = cohen_kappa(pairs)
    return {
        "rows": n,
        "agreement": round(sum(a is b for a, b in pairs) / n, 6) if n else None,
        "kappa": round(kappa, 6) if kappa is not None else None,
        "per_label": {
            label.value: {
                "left": sum(a is label for a, _ in pairs),
                "right": sum(b is label for _, b in pairs),
                "both": confusion[label.value][label.value],
            }
            for label in LABELS
        },
        "confusion": confusion,
    }


def compare_records(left: Iterable[ScoreRecord], right: Iterable[ScoreRecord]) -> dict[str, Any]:
    """Row-label agreement over the instances both sides scored."""
    left, right = list(left), list(right)
    right_by_id = {r.id: r for r in right if r.status == "scored"}
    pairs: list[tuple[Label, Label]] = []
    by_category: dict[str, list[tuple[Label, Label]]] = {}
    instances = 0
    score_gap = 0.0
    for a in left:
        b = right_by_id.get(a.id)
        if a.status != "scored" or b is None:
            continue
        instances += 1
        both = list(zip(a.labels, b.labels, strict=False))
        pairs.extend(both)
        for category in a.categories:
            by_category.setdefault(category.value, []).extend(both)
        score_gap += abs((a.score or 0.0) - (b.score or 0.0))
    result = agreement(pairs)
    result["instances"] = instances
    result["mean_abs_score_gap"] = round(score_gap / instances, 6) if instances else None
    result["by_category"] = {
        c: {k: v for k, v in agreement(p).items() if k in ("rows", "agreement", "kappa")}
        for c, p in sorted(by_category.items())
    }
    result["warnings"] = mismatch_warnings(left, right)
    return result


def mismatch_warnings(left: list[ScoreRecord], right: list[ScoreRecord]) -> list[str]:
    """Signs that the two sides did not score the same predictions (agreement would then
    measure two models, not two scorers)."""

    def runs(records: list[ScoreRecord]) -> set[str]:
        return {f"{r.backend}/{r.model}/{r.prompt}" for r in records}

    warnings = []
    if runs(left) != runs(right):
        warnings.append(
            f"the two sides score different runs (left: {', '.join(sorted(runs(left)))}; "
            f"right: {', '.join(sorted(runs(right)))}); agreement then compares models, not scorers"
        )
    only = {r.id for r in left} ^ {r.id for r in right}
    if only:
        warnings.append(f"{len(only)} instance(s) are scored on one side only and are left out")
    return warnings
