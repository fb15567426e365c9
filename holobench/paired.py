"""Paired comparison of two runs scored on the same instances: is A ahead of B beyond chance?

Two runs of one suite answer the same instances, and an instance that is hard for one model is
usually hard for the other.  Two separate intervals ignore that shared difficulty and overlap
more than the difference warrants; a *paired* cluster bootstrap draws queries once per resample
for both runs, takes every paired instance of each drawn query, and recomputes
mean(A) - mean(B) over them, so what the two runs share cancels in every draw.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from holobench.aggregate import N_BOOT, SEED, Run, bootstrap_ci
from holobench.errors import HoloBenchError
from holobench.records import PairedDifference, ScoreRecord


class NoCommonInstances(HoloBenchError):
    """Two runs share no scored instance, so there is nothing to pair."""


@dataclass(frozen=True)
class Pairs:
    """Scores of the instances both runs scored, in instance-id order, and what was left out."""

    a: np.ndarray
    b: np.ndarray
    queries: np.ndarray
    only_a: int
    only_b: int


def _scored(records: Sequence[ScoreRecord]) -> dict[str, ScoreRecord]:
    return {r.id: r for r in records if r.status == "scored" and r.score is not None}


def pair_scores(a: Run, b: Run) -> Pairs:
    """Match records by instance id; an instance skipped, failed or absent on either side is left out."""
    left, right = _scored(a.records), _scored(b.records)
    common = sorted(left.keys() & right.keys())
    if not common:
        raise NoCommonInstances(
            f"{a.label} and {b.label}: no instance is scored in both runs, so they cannot be paired; "
            "compare runs of the same suite"
        )
    for i in common:
        if left[i].query_id != right[i].query_id:
            raise HoloBenchError(
                f"{a.label} and {b.label}: instance {i} is from query {left[i].query_id} in one run and "
                f"{right[i].query_id} in the other; runs of different suites cannot be paired"
            )
    return Pairs(
        a=np.array([left[i].score for i in common], dtype=float),
        b=np.array([right[i].score for i in common], dtype=float),
        queries=np.array([left[i].query_id for i in common]),
        only_a=len(left.keys() - right.keys()),
        only_b=len(right.keys() - left.keys()),
    )


def paired_difference(a: Run, b: Run, *, n_boot: int = N_BOOT, seed: int | Sequence[int] = SEED) -> PairedDifference:
    """``a`` minus ``b`` with a 95% paired cluster-bootstrap interval over queries.

    Over the same drawn instances mean(A) - mean(B) equals the mean of the per-instance
    differences, so the paired bootstrap is :func:`bootstrap_ci` on those differences: one
    ``rng.integers(0, n_queries, size=(n_boot, n_queries))`` draw with ``np.random.default_rng(seed)``,
    queries in sorted order.  The draws depend on the queries only, never on which run is ``a``,
    so swapping the runs negates the difference and mirrors the interval.  With one query the
    interval is the point and the runs are not called separable (no spread between queries).
    """
    pairs = pair_scores(a, b)
    differences = pairs.a - pairs.b
    diff = float(differences.mean())
    queries = len(np.unique(pairs.queries))
    low, high = (diff, diff) if queries < 2 else bootstrap_ci(differences, pairs.queries, n_boot=n_boot, seed=seed)
    return PairedDifference(
        a=a.label,
        b=b.label,
        n_pairs=len(differences),
        queries=queries,
        only_a=pairs.only_a,
        only_b=pairs.only_b,
        mean_a=float(pairs.a.mean()),
        mean_b=float(pairs.b.mean()),
        diff=diff,
        ci_low=low,
        ci_high=high,
        separable=queries >= 2 and (low > 0 or high < 0),
    )


def pair_seed(seed: int, a: str, b: str) -> list[int]:
    """One generator seed per pair of labels, the same whichever run comes first."""
    first, second = sorted((a, b))
    return [seed, zlib.crc32(f"paired\0{first}\0{second}".encode())]


@dataclass(frozen=True)
class AllPairs:
    """The paired difference of runs ``i < j`` (run i minus run j, keyed ``(i, j)``) for every pair
    sharing a scored instance, and one note per pair that shares none and was skipped."""

    pairs: dict[tuple[int, int], PairedDifference]
    skipped: list[str]

    def between(self, i: int, j: int) -> PairedDifference | None:
        """Run ``i`` minus run ``j`` in either order; None when the pair was skipped or ``i == j``."""
        if (i, j) in self.pairs:
            return self.pairs[(i, j)]
        return swapped(self.pairs[(j, i)]) if (j, i) in self.pairs else None


def all_pairs(runs: Sequence[Run], *, n_boot: int = N_BOOT, seed: int = SEED) -> AllPairs:
    """Every pair of runs in the given order, each with its own seed (see :func:`pair_seed`)."""
    found: dict[tuple[int, int], PairedDifference] = {}
    skipped = []
    for (i, a), (j, b) in itertools.combinations(enumerate(runs), 2):
        try:
            found[(i, j)] = paired_difference(a, b, n_boot=n_boot, seed=pair_seed(seed, a.label, b.label))
        except NoCommonInstances as exc:
            skipped.append(str(exc))
    return AllPairs(found, skipped)


def swapped(p: PairedDifference) -> PairedDifference:
    """``b`` minus ``a``: what :func:`paired_difference` gives with the runs swapped (same draws)."""
    return p.model_copy(
        update={
            "a": p.b,
            "b": p.a,
            "only_a": p.only_b,
            "only_b": p.only_a,
            "mean_a": p.mean_b,
            "mean_b": p.mean_a,
            "diff": 0.0 - p.diff,  # not -p.diff: a zero difference stays +0.0, never prints as -0.000
            "ci_low": 0.0 - p.ci_high,
            "ci_high": 0.0 - p.ci_low,
        }
    )


def interval_text(p: PairedDifference) -> str:
    """``+0.125 [+0.050, +0.200]``: signed, so the direction reads at a glance."""
    return f"{p.diff:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]"


def paired_frame(pairs: Sequence[PairedDifference]) -> pd.DataFrame:
    """One row per pair, every field a column (``tables/paired.csv``)."""
    return pd.DataFrame([p.model_dump() for p in pairs], columns=list(PairedDifference.model_fields))
