"""Mean scores by any grid dimension, each with a 95% bootstrap confidence interval over queries.

Instances of one query share its gold answer and its difficulty, so they are not independent
draws: the bootstrap resamples *queries* (a cluster bootstrap), takes all their instances in the
group, and recomputes the instance mean.  Each group's generator is seeded from ``seed`` and the
group's key, so a table is the same on every run and does not change when another group is added.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from holobench.records import ScoreRecord

N_BOOT = 2000
SEED = 0

#: The report's tables: name -> grouping columns (each table is also split by model).
TABLES: dict[str, list[str]] = {
    "overall": [],
    "length": ["target_tokens"],
    "setting": ["setting", "level"],
    "placement": ["placement"],
    "category": ["category"],
    "database": ["db_id"],
    "length_x_setting": ["target_tokens", "setting", "level"],
    "answerability": ["answerable"],
}
#: How an instance's answerability reads in tables: by design (answerable sampling) or not decided.
ANSWERABILITY = {True: "answerable", False: "unanswerable", None: "uniform"}


@dataclass(frozen=True)
class Run:
    """The records of one scored run, under the name it has in tables and plots."""

    label: str
    records: list[ScoreRecord]


def run_labels(runs: Sequence[Sequence[ScoreRecord]]) -> list[str]:
    """Model names, made longer (backend, then prompt) only where two runs would share one."""

    def name(records: Sequence[ScoreRecord], depth: int) -> str:
        if not records:
            return "(empty)"
        r = records[0]
        parts = [r.model] if depth == 0 else [r.backend, r.model] if depth == 1 else [r.backend, r.model, r.prompt]
        return ":".join(dict.fromkeys(parts))

    for depth in range(3):
        labels = [name(r, depth) for r in runs]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{name(r, 2)}#{i + 1}" for i, r in enumerate(runs)]


def frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per (run, scored or unscored record, category); categories are exploded."""
    rows = []
    for run in runs:
        for r in run.records:
            for category in r.categories:
                rows.append(
                    {
                        "model": run.label,
                        "id": r.id,
                        "query_id": r.query_id,
                        "db_id": r.db_id,
                        "category": category.value,
                        "target_tokens": r.target_tokens,
                        "setting": r.setting,
                        "level": r.level,
                        "placement": r.placement.value,
                        "status": r.status,
                        "score": r.score,
                        "precision": r.precision,
                        "retrieval_recall": r.retrieval_recall,
                        "answerable": ANSWERABILITY[r.answerable],
                        "primary": category == r.categories[0],
                    }
                )
    columns = [
        "model",
        "id",
        "query_id",
        "db_id",
        "category",
        "target_tokens",
        "setting",
        "level",
        "placement",
        "status",
        "score",
        "precision",
        "retrieval_recall",
        "answerable",
        "primary",
    ]
    return pd.DataFrame(rows, columns=columns)


def bootstrap_ci(
    scores: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    seed: int | Sequence[int] = SEED,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """95% percentile interval of the mean, weighted by ``weights`` when given, resampling whole
    clusters (queries)."""
    keys, inverse = np.unique(clusters, return_inverse=True)
    if weights is None:
        sums = np.bincount(inverse, weights=scores, minlength=len(keys))
        counts = np.bincount(inverse, minlength=len(keys)).astype(float)
    else:
        sums = np.bincount(inverse, weights=scores * weights, minlength=len(keys))
        counts = np.bincount(inverse, weights=weights, minlength=len(keys))
    if len(keys) < 2:
        mean = float(sums.sum() / counts.sum())
        return mean, mean
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(n_boot, len(keys)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _group_seed(seed: int, key: tuple[object, ...]) -> list[int]:
    return [seed, zlib.crc32(repr(key).encode("utf-8"))]


def table(
    df: pd.DataFrame, by: Sequence[str], *, value: str = "score", n_boot: int = N_BOOT, seed: int = SEED
) -> pd.DataFrame:
    """Mean ``value`` with its CI per model and group; unscored records are counted, not averaged."""
    keys = ["model", *by]
    if "category" not in by:
        df = df[df["primary"]]  # one row per record unless the table is split by category
    out = []
    for key, group in df.groupby(keys, sort=True, dropna=False):
        key_tuple = key if isinstance(key, tuple) else (key,)
        scored = group[(group["status"] == "scored") & group[value].notna()]
        row = dict(zip(keys, key_tuple, strict=True))
        row.update(
            {
                "n": len(scored),
                "queries": int(scored["query_id"].nunique()),
                "skipped": int((group["status"] == "skipped").sum()),
                "failed": int((group["status"] == "failed").sum()),
                "truncated": int((group["status"] == "truncated").sum()),
            }
        )
        if len(scored):
            values = scored[value].to_numpy(dtype=float)
            low, high = bootstrap_ci(
                values, scored["query_id"].to_numpy(), n_boot=n_boot, seed=_group_seed(seed, (value, *key_tuple))
            )
            row.update({"mean": float(values.mean()), "ci_low": low, "ci_high": high})
        else:
            row.update({"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan})
        out.append(row)
    columns = [*keys, "mean", "ci_low", "ci_high", "n", "queries", "skipped", "failed", "truncated"]
    return pd.DataFrame(out, columns=columns)


def all_tables(df: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED) -> dict[str, pd.DataFrame]:
    tables = {name: table(df, by, n_boot=n_boot, seed=seed) for name, by in TABLES.items()}
    if df["precision"].notna().any():
        tables["precision"] = table(df, [], value="precision", n_boot=n_boot, seed=seed)
    if df["retrieval_recall"].notna().any():
        tables["retrieval_recall"] = table(df, ["category"], value="retrieval_recall", n_boot=n_boot, seed=seed)
    return tables
