"""The deterministic ``match`` scorer: final-answer extraction, value normalisation, row labels.

Rules, in the order they apply (the README lists them for users):

1. Reasoning blocks (``<think>``...) never count.  The final answer is the text after the last
   "Final answer:"; for the ``structured`` prompt, the last JSON code block comes first.  With
   neither, the whole reply is the answer.
2. The answer is cut into *items*: JSON rows, markdown-table rows, list lines, other lines; a line
   that names several gold rows is cut further at ``;``, ``,`` and ``and`` (never inside a gold
   value such as ``"Santana, Carlos"``, nor inside ``1,297``); a short heading above items and
   a lead-in before a colon are said of each item under them.
3. A gold row is Exact when all its non-null cells are found in one item, Partial when some are,
   No otherwise.  In a Ranking question, Exact rows given out of the gold order (outside the
   longest in-order run) become Partial.
4. Empty gold: one label, Exact when the answer says there is none, else No.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from holobench.records import MAX_JUDGED_ROWS, Category, Label
from holobench.scoring.cells import Cell, Item
from holobench.scoring.clauses import split_items
from holobench.scoring.extract import Answer, extract_answer, has_final_answer, headed, says_none
from holobench.scoring.shape import query_shape
from holobench.scoring.values import number_matches

__all__ = ["DEFAULT_REL_TOL", "Answer", "MatchResult", "extract_answer", "has_final_answer", "match", "says_none"]

DEFAULT_REL_TOL = 0.01
#: Rows beyond this are not matched at all: they cannot be labelled and only feed precision.
MAX_MATCHED_ROWS = 1000
# A name written with a slip still says which row is meant ("ozunam01" for "ozunama01")
_MIN_MISSPELT = 6
_ALIKE = 0.85


@dataclass
class MatchResult:
    labels: list[Label]
    gold_rows: int
    answer: Answer
    matched_items: int

    @property
    def precision(self) -> float | None:
        if not self.answer.items:
            return None
        return self.matched_items / len(self.answer.items)


def match(
    gold_rows: Sequence[Sequence[Any]],
    response: str | None,
    *,
    prompt: str = "cot",
    categories: Sequence[Category | str] = (),
    rel_tol: float = DEFAULT_REL_TOL,
    sql: str | None = None,
) -> MatchResult:
    """Label each judged gold row of one prediction. ``sql``, the query's, tells which rows tie in
    its order and which columns it rounds (a grader reads both from the question)."""
    answer = extract_answer(response or "", prompt)
    if not gold_rows:
        none = says_none(answer)
        return MatchResult([Label.EXACT if none else Label.NO], 0, answer, len(answer.items) if none else 0)
    shape = query_shape(sql)
    rows = [
        [Cell(v, rel_tol, shape.decimals[i] if i < len(shape.decimals) else None) for i, v in enumerate(row)]
        for row in gold_rows[:MAX_MATCHED_ROWS]
    ]
    _mark_longer(rows)
    if says_none(answer) and not answer.items[1:]:
        nulls = _none_labels(rows, answer)
        return MatchResult(nulls, len(gold_rows), answer, sum(label is Label.EXACT for label in nulls))
    items = _items(answer, gold_rows, rows)
    grid = _Grid(rows, items, says_none(answer))
    labels = grid.labels()[:MAX_JUDGED_ROWS]
    if Category.RANKING in {Category(c) for c in categories} and len(gold_rows) > 1:
        groups = shape.tie_groups(gold_rows[: len(labels)])
        labels = _order_penalty(labels, _untie(grid.exact_item[: len(labels)], groups))
    return MatchResult(labels, len(gold_rows), answer, len({j for j in grid.matched if j < len(answer.items)}))


def _none_labels(rows: list[list[Cell]], answer: Answer) -> list[Label]:
    """ "None": right for rows that are all NULL, and for a count of zero it states ("None of the
    tracks has it, so the count is zero"); never partly right."""
    single = Item.of(answer.items[0]) if answer.items else Item.of("")
    return [
        Label.EXACT
        if all(c.ignored for c in row) or all(c.ignored or (c.number == 0 and c.found_in(single)) for c in row)
        else Label.NO
        for row in rows[:MAX_JUDGED_ROWS]
    ]


def _items(answer: Answer, gold_rows: Sequence[Sequence[Any]], rows: list[list[Cell]]) -> list[Item]:
    """The items the rows are looked for in; ``answer.items`` becomes their texts. The items past
    those texts are extra places one row may be found in."""
    heads = answer.headings or [""] * len(answer.items)
    texts, scopes = (answer.items, heads) if answer.structured else split_items(answer.items, heads, gold_rows, rows)
    answer.items = texts
    items = [Item.of(headed(t, scope)) for t, scope in zip(texts, scopes, strict=True)]
    if len(rows) == 1 and not answer.structured and len(answer.lines) > 1:
        # one row: any line may hold it ("Total: 3" after a list), and a row of numbers only may
        # be spread over lines ("Shortest: 107,206 ms" / "Longest: 5,088,838 ms")
        items += [Item.of(line) for line in answer.lines]
        if not any(c.names for c in rows[0]):
            items.append(Item.of(" ".join(answer.lines)))
    return items


class _Grid:
    """Which cells of which rows each item holds, and the labels that follow."""

    def __init__(self, rows: list[list[Cell]], items: list[Item], says_none: bool) -> None:
        self.rows, self.items, self.says_none = rows, items, says_none
        self.found = [[[c.found_in(item) for c in row] for item in items] for row in rows]
        self.wanted = [[i for i, c in enumerate(row) if not c.ignored] for row in rows]
        self.keys = [{c.key for c in row if not c.ignored} for row in rows]
        self.hits = [
            [sum(self.found[r][j][i] for i in self.wanted[r]) for j in range(len(items))] for r in range(len(rows))
        ]
        self.exact_item = self._exact_items()
        self.claimed = {j for j in self.exact_item if j is not None}
        self.matched: set[int] = set(self.claimed)
        #: every gold name, for telling a slip of one row's name from another row's
        self.names = {c.norm for row in rows for c in row if c.names and c.when is None}

    def _exact_items(self) -> list[int | None]:
        """In gold order, each row takes the first item holding all its cells at or after the
        previous row's, unused if possible: repeated values (two rows "Aaaa") then land on their
        own items, in order."""
        picks: list[int | None] = []
        last, used = -1, set()
        for r, wanted in enumerate(self.wanted):
            full = [j for j, h in enumerate(self.hits[r]) if wanted and h == len(wanted)]
            pick = next(
                (j for j in full if j >= last and j not in used),
                next((j for j in full if j not in used), full[0] if full else None),
            )
            picks.append(pick)
            if pick is not None:
                last = pick
                used.add(pick)
        return picks

    def identifies(self, r: int, j: int) -> bool:
        """Whether the cells of row ``r`` found in item ``j`` single it out among the rows."""
        given = {self.rows[r][i].key for i in self.wanted[r] if self.found[r][j][i]}
        return not any(given <= keys for o, keys in enumerate(self.keys) if o != r and keys != self.keys[r])

    def labels(self) -> list[Label]:
        # Exact rows first; an item that fully answers one row gives no partial credit to another
        # ("Dee Gordon .333" says nothing about Harper's .330).
        return [self._label(r) for r in range(len(self.rows))]

    def _label(self, r: int) -> Label:
        if not self.wanted[r]:  # an all-null row (an average over nothing): the answer must say there is none
            null = self.says_none or any(" null " in it.norm or " none " in it.norm for it in self.items)
            return Label.EXACT if null else Label.NO
        if self.exact_item[r] is not None:
            return Label.EXACT
        # Partial credit needs values that single this row out: "Veterans" in another inductee's
        # line says nothing about a missing one; "Fall 2010" does name a row. A name written
        # with a slip, or a value coarser than asked, says which row is meant too.
        free = [(h, j) for j, h in enumerate(self.hits[r]) if j not in self.claimed and h and self.identifies(r, j)]
        if free:
            self.matched.add(max(free, key=lambda x: (x[0], -x[1]))[1])
            return Label.PARTIAL
        for j, item in enumerate(self.items):
            if j not in self.claimed and (_misspelt(self.rows[r], item, self.names) or _coarse(self.rows[r], item)):
                self.matched.add(j)
                return Label.PARTIAL
        return Label.NO


def _coarse(row: list[Cell], item: Item) -> bool:
    """Whether ``item`` gives the row with a number the query rounds finer ("about 205" for
    204.7, asked to one decimal): the value, at the wrong precision, is Partial at most."""
    coarse = [c for c in row if c.decimals is not None and c.number is not None]
    return bool(coarse) and all(
        c.ignored
        or c.found_in(item)
        or (c in coarse and number_matches(c.number or 0.0, False, item.numbers, c.rel_tol))
        for c in row
    )


def _misspelt(row: list[Cell], item: Item, gold_texts: set[str]) -> bool:
    """Whether ``item`` writes one of the row's names with a slip ("ozunam01" for "ozunama01"):
    the same digits, at least 85% alike, and nearer to it than to any other gold name. That
    says which row is meant, but not rightly: Partial at most."""
    words = item.norm.split()
    for cell in row:
        if not cell.names or cell.when is not None or len(cell.norm) < _MIN_MISSPELT or cell.found_in(item):
            continue  # too short to tell a slip from another name, or written as it is
        size = len(cell.norm.split())
        digits = re.sub(r"\D", "", cell.norm)
        for k in range(len(words) - size + 1):
            window = " ".join(words[k : k + size])
            if window == cell.norm or re.sub(r"\D", "", window) != digits or abs(len(window) - len(cell.norm)) > 2:
                continue  # a name cut short ("Don't Go Back To Rock") is not a slip
            alike = SequenceMatcher(None, window, cell.norm).ratio()
            if alike >= _ALIKE and all(
                SequenceMatcher(None, window, other).ratio() < alike for other in gold_texts if other != cell.norm
            ):
                return True
    return False


def _mark_longer(rows: list[list[Cell]]) -> None:
    """Tell each text cell which other gold values contain it as words."""
    texts = {c.norm for row in rows for c in row if c.norm and c.number is None and c.when is None}
    if len(texts) < 2:
        return
    for row in rows:
        for cell in row:
            if cell.norm in texts:
                cell.longer = tuple(
                    sorted((t for t in texts if t != cell.norm and f" {cell.norm} " in f" {t} "), key=len, reverse=True)
                )


def _untie(positions: list[int | None], groups: list[int]) -> list[int | None]:
    """Rows that tie in the query's order may come in any order: within a tie, the rows take the
    places they were given in, sorted, so that no order among them is out of place."""
    out = list(positions)
    for group in set(groups):
        given = [(r, p) for r, (g, p) in enumerate(zip(groups, positions, strict=True)) if g == group and p is not None]
        for (r, _), p in zip(given, sorted(p for _, p in given), strict=True):
            out[r] = p
    return out


def _order_penalty(labels: list[Label], positions: list[int | None]) -> list[Label]:
    """An Exact row given in the wrong place becomes Partial. A row is in place when it belongs to
    every longest run of rows given in gold order: a row moved far is outside all of them (and the
    rows it jumped over stay Exact), while of two swapped neighbours each is outside one of the
    runs, so both are in the wrong place, as a grader marks them."""
    exact = [(r, p) for r, p in enumerate(positions) if labels[r] is Label.EXACT and p is not None]
    if len(exact) < 2:
        return labels
    pos = [p for _, p in exact]
    n = len(pos)
    ending = [1] * n  # longest in-order run ending at i
    for i in range(n):
        for j in range(i):
            if pos[j] <= pos[i]:
                ending[i] = max(ending[i], ending[j] + 1)
    starting = [1] * n  # longest in-order run starting at i
    for i in reversed(range(n)):
        for j in range(i + 1, n):
            if pos[i] <= pos[j]:
                starting[i] = max(starting[i], starting[j] + 1)
    longest = max(ending)
    on_some = [ending[i] + starting[i] - 1 == longest for i in range(n)]
    # on every longest run: the only row that any such run can use at its step
    steps = Counter(ending[i] for i in range(n) if on_some[i])
    keep = {exact[i][0] for i in range(n) if on_some[i] and steps[ending[i]] == 1}
    return [
        Label.PARTIAL if label is Label.EXACT and r not in keep and positions[r] is not None else label
        for r, label in enumerate(labels)
    ]
