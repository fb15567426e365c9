"""Where relevant lines go among auxiliary ones: one function per placement, in one table.

Each takes the relevant and the auxiliary lines (already in their sampled orders) and a seeded
random stream, and returns them interleaved as ``(line, relevant)`` pairs. A new placement is a
function here plus one entry in :data:`PLACEMENTS` (and its name in ``records.Placement``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from holobench.records import Placement

T = TypeVar("T")
Arranger = Callable[[Sequence[T], Sequence[T], random.Random], list[tuple[T, bool]]]


def _pairs(relevant: Sequence[T], auxiliary: Sequence[T]) -> tuple[list[tuple[T, bool]], list[tuple[T, bool]]]:
    return [(x, True) for x in relevant], [(x, False) for x in auxiliary]


def begin(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Relevant lines first.

    >>> show(begin, "RR", "aaaa")
    'RRaaaa'
    """
    rel, aux = _pairs(relevant, auxiliary)
    return rel + aux


def end(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Relevant lines last.

    >>> show(end, "RR", "aaaa")
    'aaaaRR'
    """
    rel, aux = _pairs(relevant, auxiliary)
    return aux + rel


def middle(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Relevant lines together, half the auxiliary lines before them.

    >>> show(middle, "RR", "aaaaa")
    'aaRRaaa'
    """
    rel, aux = _pairs(relevant, auxiliary)
    return aux[: len(aux) // 2] + rel + aux[len(aux) // 2 :]


def bimodal(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Half the relevant lines at the start (the larger half), the rest at the end.

    >>> show(bimodal, "RRR", "aaaa")
    'RRaaaaR'
    """
    rel, aux = _pairs(relevant, auxiliary)
    head = (len(rel) + 1) // 2
    return rel[:head] + aux + rel[head:]


def uniform(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Relevant lines evenly spaced: the auxiliary lines fill the gaps before, between and after
    them, the larger gaps spread evenly too.

    >>> show(uniform, "RR", "aaaaaaa")
    'aaRaaRaaa'
    """
    rel, aux = _pairs(relevant, auxiliary)
    gaps = len(rel) + 1
    base, extra = divmod(len(aux), gaps)
    sizes = [base + ((g + 1) * extra // gaps - g * extra // gaps) for g in range(gaps)]
    out: list[tuple[T, bool]] = []
    pos = 0
    for g, size in enumerate(sizes):
        out.extend(aux[pos : pos + size])
        pos += size
        if g < len(rel):
            out.append(rel[g])
    return out


def scattered(relevant: Sequence[T], auxiliary: Sequence[T], rng: random.Random) -> list[tuple[T, bool]]:
    """Relevant lines at seeded random positions, each order kept.

    >>> show(scattered, "RR", "aaaa", seed=3)
    'aRaaRa'
    """
    rel, aux = _pairs(relevant, auxiliary)
    total = len(rel) + len(aux)
    slots = set(rng.sample(range(total), len(rel)))
    rel_iter, aux_iter = iter(rel), iter(aux)
    return [next(rel_iter) if i in slots else next(aux_iter) for i in range(total)]


#: Every placement and the function that arranges it.
PLACEMENTS: dict[Placement, Arranger[object]] = {
    Placement.BEGIN: begin,
    Placement.END: end,
    Placement.MIDDLE: middle,
    Placement.BIMODAL: bimodal,
    Placement.UNIFORM: uniform,
    Placement.RANDOM: scattered,
}


def show(arranger: Arranger[str], relevant: str, auxiliary: str, seed: int = 0) -> str:
    """A placement drawn as text, relevant lines as R and auxiliary ones as a (the examples)."""
    return "".join(x for x, _ in arranger(list(relevant), list(auxiliary), random.Random(seed)))
