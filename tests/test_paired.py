"""Paired differences between two runs: checked against a plain loop and by their symmetries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holobench.aggregate import Run
from holobench.errors import HoloBenchError
from holobench.paired import NoCommonInstances, all_pairs, pair_seed, paired_difference, swapped
from holobench.records import Placement, ScoreRecord

#: (query, score of A, score of B) per instance; scores on a grid of sixteenths so sums are exact.
Data = list[tuple[int, float, float]]
GRID = st.integers(0, 16).map(lambda k: k / 16)
DATA = st.lists(st.tuples(st.integers(0, 5), GRID, GRID), min_size=1, max_size=30)


def record(i: int, query: int | str, score: float | None, *, model: str = "m", status: str = "scored") -> ScoreRecord:
    return ScoreRecord(
        id=f"i{i:03d}",
        query_id=f"q{query}",
        db_id="db",
        categories=("Aggregation",),
        target_tokens=1000,
        setting="amount",
        level=500,
        placement=Placement.RANDOM,
        backend="openai",
        model=model,
        prompt="cot",
        scorer="match",
        status=status,
        score=score if status == "scored" else None,
    )


def runs(data: Data) -> tuple[Run, Run]:
    a = Run("A", [record(i, q, x, model="A") for i, (q, x, _) in enumerate(data)])
    b = Run("B", [record(i, q, y, model="B") for i, (q, _, y) in enumerate(data)])
    return a, b


def loop_interval(data: Data, *, n_boot: int, seed: int | Sequence[int]) -> tuple[float, float]:
    """The paired cluster bootstrap written out: the same generator and the same integers call,
    then per resample every instance of every drawn query, and mean(A) - mean(B) over them."""
    queries = sorted({f"q{q}" for q, _, _ in data})
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(queries), size=(n_boot, len(queries)))
    differences = []
    for draw in picks:
        drawn_a: list[float] = []
        drawn_b: list[float] = []
        for k in draw:
            for q, x, y in data:
                if f"q{q}" == queries[k]:
                    drawn_a.append(x)
                    drawn_b.append(y)
        differences.append(sum(drawn_a) / len(drawn_a) - sum(drawn_b) / len(drawn_b))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def test_interval_equals_a_direct_loop() -> None:
    rng = np.random.default_rng(11)
    data = [(int(rng.integers(0, 9)), float(rng.random()), float(rng.random())) for _ in range(60)]
    p = paired_difference(*runs(data), n_boot=700, seed=[4, 2])
    assert (p.ci_low, p.ci_high) == pytest.approx(loop_interval(data, n_boot=700, seed=[4, 2]), abs=1e-12)
    assert p.diff == pytest.approx(np.mean([x - y for _, x, y in data]), abs=1e-12)
    assert p.mean_a - p.mean_b == pytest.approx(p.diff, abs=1e-12)
    assert (p.n_pairs, p.queries) == (60, len({q for q, _, _ in data}))


@settings(max_examples=60, deadline=None)
@given(DATA, st.integers(0, 2**16))
def test_interval_equals_a_direct_loop_on_any_data(data: Data, seed: int) -> None:
    p = paired_difference(*runs(data), n_boot=150, seed=seed)
    if p.queries < 2:
        assert p.ci_low == p.ci_high == p.diff
    else:
        assert (p.ci_low, p.ci_high) == pytest.approx(loop_interval(data, n_boot=150, seed=seed), abs=1e-12)
    assert paired_difference(*runs(data), n_boot=150, seed=seed) == p  # deterministic under the seed


@settings(max_examples=80, deadline=None)
@given(DATA, st.integers(0, 2**16))
def test_swapping_the_runs_negates_the_difference_and_mirrors_the_interval(data: Data, seed: int) -> None:
    a, b = runs(data)
    ab = paired_difference(a, b, n_boot=200, seed=seed)
    ba = paired_difference(b, a, n_boot=200, seed=seed)
    assert ba.diff == -ab.diff
    assert ba.ci_low == pytest.approx(-ab.ci_high, abs=1e-12)
    assert ba.ci_high == pytest.approx(-ab.ci_low, abs=1e-12)
    assert ba.separable == ab.separable
    assert (ba.a, ba.b, ba.mean_a, ba.mean_b) == (ab.b, ab.a, ab.mean_b, ab.mean_a)


@settings(max_examples=40, deadline=None)
@given(DATA)
def test_a_run_against_itself_is_zero_and_not_separable(data: Data) -> None:
    a, _ = runs(data)
    p = paired_difference(a, Run("A again", a.records), n_boot=200, seed=0)
    assert (p.diff, p.ci_low, p.ci_high, p.separable) == (0.0, 0.0, 0.0, False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8)), min_size=1, max_size=30), st.integers(0, 8))
def test_a_constant_shift_is_the_difference_exactly(data: list[tuple[int, int]], shift: int) -> None:
    c = shift / 16
    shifted = [(q, k / 16 + c, k / 16) for q, k in data]
    p = paired_difference(*runs(shifted), n_boot=200, seed=3)
    assert (p.diff, p.ci_low, p.ci_high) == (c, c, c)
    assert p.separable == (c != 0 and p.queries >= 2)


def test_strongly_different_runs_are_separable_both_ways() -> None:
    rng = np.random.default_rng(5)
    data = [(q, float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.0, 0.5))) for q in range(25) for _ in range(3)]
    ab = paired_difference(*runs(data), n_boot=1000, seed=0)
    assert ab.separable and 0 < ab.ci_low <= ab.diff <= ab.ci_high
    b, a = runs(data)[::-1]
    ba = paired_difference(b, a, n_boot=1000, seed=0)
    assert ba.separable and ba.ci_high < 0


def test_close_runs_are_not_separable() -> None:
    rng = np.random.default_rng(6)
    data = [(q, float(rng.random()), float(rng.random())) for q in range(25) for _ in range(3)]
    p = paired_difference(*runs(data), n_boot=1000, seed=0)
    assert not p.separable and p.ci_low < 0 < p.ci_high


def test_only_instances_scored_in_both_runs_are_paired() -> None:
    a = Run("A", [record(0, 1, 1.0), record(1, 1, 0.5), record(2, 2, None, status="skipped"), record(3, 2, 1.0)])
    b = Run("B", [record(0, 1, 0.0), record(1, 1, 0.5), record(2, 2, 0.0), record(4, 2, 1.0)])
    p = paired_difference(a, b, n_boot=100, seed=0)
    assert (p.n_pairs, p.queries, p.only_a, p.only_b) == (2, 1, 1, 2)
    assert (p.diff, p.ci_low, p.ci_high, p.separable) == (0.5, 0.5, 0.5, False)  # one query: no interval


def test_runs_without_common_instances_or_with_other_queries_are_refused() -> None:
    a = Run("model <a>", [record(0, 1, 1.0)])
    with pytest.raises(NoCommonInstances, match="model <a> and other: no instance is scored in both"):
        paired_difference(a, Run("other", [record(1, 1, 1.0)]))
    with pytest.raises(HoloBenchError, match="instance i000 is from query q1 in one run and q7"):
        paired_difference(a, Run("other", [record(0, 7, 1.0)]))


def test_all_pairs_skips_disjoint_runs_with_a_note() -> None:
    a, b = runs([(q, 1.0, 0.0) for q in range(4)])
    c = Run("C", [record(100 + q, q, 0.5) for q in range(4)])
    found = all_pairs([a, b, c], n_boot=200, seed=0)
    assert list(found.pairs) == [(0, 1)] and found.pairs[(0, 1)].separable
    assert len(found.skipped) == 2 and all("no instance is scored in both" in note for note in found.skipped)
    assert found.between(0, 2) is None and found.between(1, 1) is None
    assert found.between(1, 0) == swapped(found.pairs[(0, 1)])
    assert found.between(1, 0) == paired_difference(b, a, n_boot=200, seed=pair_seed(0, "A", "B"))
    assert pair_seed(0, "A", "B") == pair_seed(0, "B", "A") != pair_seed(1, "A", "B")
