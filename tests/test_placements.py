"""The placement table: every placement keeps every line once, in each kind's own order."""

from __future__ import annotations

import doctest
import random

from hypothesis import given, settings
from hypothesis import strategies as st

import holobench.placements
from holobench.placements import PLACEMENTS
from holobench.records import Placement


def test_every_placement_has_a_function_with_a_running_example() -> None:
    assert set(PLACEMENTS) == set(Placement)
    result = doctest.testmod(holobench.placements)
    assert result.attempted >= len(Placement) and result.failed == 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(Placement)), st.integers(0, 12), st.integers(0, 40), st.integers(0, 2**16))
def test_a_placement_keeps_every_line_once_in_order(placement: Placement, r: int, a: int, seed: int) -> None:
    relevant = [f"r{i}" for i in range(r)]
    auxiliary = [f"a{i}" for i in range(a)]
    out = PLACEMENTS[placement](relevant, auxiliary, random.Random(seed))
    assert [x for x, rel in out if rel] == relevant
    assert [x for x, rel in out if not rel] == auxiliary
    assert all(rel == x.startswith("r") for x, rel in out)
