"""Closed book vs open book: how much of a model's score needed the context.

The bundled databases are famous public data, so a model may answer some questions from memory.
A closed-book run (``holobench run --closed-book``: prompt ``<name>+closed``, no context) is
paired with the open-book run of the same backend, model and prompt in the same report, and per
category, over the instances both scored that are not unanswerable by design:

* ``open``, ``closed``: the two runs' mean scores over those same instances;
* ``gap`` = open - closed: the part of the score that needed the context, with a 95% paired
  cluster-bootstrap interval over queries (as in the paired comparisons);
* ``closed_share`` = closed / open: the share of the open-book score the model reaches without
  reading (empty when open is 0).

``data`` says whether the instances were counterfactual (``holobench.perturb``): there memory
cannot help, so the closed score should fall to the floor; runs pair only on the same data.

Unanswerable-by-design instances are left out: "No answer" scores 1 on them in both settings,
which would pull the two scores together whatever the model knows.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from holobench.aggregate import N_BOOT, SEED, Run
from holobench.paired import NoCommonInstances, paired_difference
from holobench.prompts import answer_format, closed_book

ALL = "all"
COLUMNS = [
    "model",
    "prompt",
    "data",
    "category",
    "open",
    "closed",
    "gap",
    "gap_ci_low",
    "gap_ci_high",
    "closed_share",
    "n",
    "queries",
    "open_only",
    "closed_only",
    "open_run",
    "closed_run",
]


@dataclass(frozen=True)
class ClosedBook:
    """The table (one row per pair of runs and category, ``all`` first) and a note per
    closed-book run left without an open-book partner."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _key(run: Run) -> tuple[str, str, str, str]:
    """Runs pair by backend, model, prompt and data: a closed-book run on counterfactual data is
    compared with the open-book run on the same counterfactual data, never the original."""
    first = run.records[0]
    return first.backend, first.model, answer_format(first.prompt), _data(run)


def _data(run: Run) -> str:
    return "counterfactual" if run.records[0].counterfactual else "original"


def _is_closed(run: Run) -> bool:
    return bool(run.records) and closed_book(run.records[0].prompt)


def pair_runs(runs: Sequence[Run]) -> tuple[list[tuple[Run, Run]], list[str]]:
    """(open, closed) pairs of one backend, model and prompt; notes for unpaired closed runs."""
    opens: dict[tuple[str, str, str, str], Run] = {}
    for run in runs:
        if run.records and not _is_closed(run):
            opens.setdefault(_key(run), run)
    pairs, notes = [], []
    for run in runs:
        if not _is_closed(run):
            continue
        partner = opens.get(_key(run))
        if partner is None:
            notes.append(
                f"{run.label} is closed-book but this report has no open-book run of {':'.join(_key(run)[:3])}"
                f" on the {_data(run)} data to compare it with"
            )
        else:
            pairs.append((partner, run))
    return pairs, notes


def _answerable(run: Run, category: str) -> Run:
    """The run's records of ``category`` (or all) that are not unanswerable by design."""
    kept = [
        r
        for r in run.records
        if r.answerable is not False and (category == ALL or category in {c.value for c in r.categories})
    ]
    return Run(run.label, kept)


def _pair_rows(open_run: Run, closed_run: Run, n_boot: int, seed: int) -> list[dict[str, object]]:
    """One row per category: the paired difference (holobench.paired) of the two runs there."""
    categories = sorted({c.value for r in [*open_run.records, *closed_run.records] for c in r.categories})
    backend, model, prompt, data = _key(open_run)
    rows: list[dict[str, object]] = []
    for category in [ALL, *categories]:
        try:
            pair = paired_difference(
                _answerable(open_run, category),
                _answerable(closed_run, category),
                n_boot=n_boot,
                seed=[seed, zlib.crc32(f"{closed_run.label}/{category}".encode())],
            )
        except NoCommonInstances:
            continue
        rows.append(
            {
                "model": ":".join(dict.fromkeys([backend, model])),
                "prompt": prompt,
                "data": data,
                "category": category,
                "open": pair.mean_a,
                "closed": pair.mean_b,
                "gap": pair.diff,
                "gap_ci_low": pair.ci_low,
                "gap_ci_high": pair.ci_high,
                "closed_share": pair.mean_b / pair.mean_a if pair.mean_a > 0 else np.nan,
                "n": pair.n_pairs,
                "queries": pair.queries,
                "open_only": pair.only_a,
                "closed_only": pair.only_b,
                "open_run": open_run.label,
                "closed_run": closed_run.label,
            }
        )
    return rows


def closed_book_table(runs: Sequence[Run], *, n_boot: int = N_BOOT, seed: int = SEED) -> ClosedBook | None:
    """The comparison for every closed-book run in ``runs``; None when there is none."""
    if not any(_is_closed(run) for run in runs):
        return None
    pairs, notes = pair_runs(runs)
    rows = [row for open_run, closed_run in pairs for row in _pair_rows(open_run, closed_run, n_boot, seed)]
    return ClosedBook(pd.DataFrame(rows, columns=COLUMNS), notes)


def closed_book_markdown(found: ClosedBook, render: Callable[[pd.DataFrame], str]) -> list[str]:
    """The report's "Closed book vs open book" section; ``render`` draws a pipe table."""
    lines = [
        "## Closed book vs open book",
        "",
        "The same questions with the context withheld (`holobench run --closed-book`), against the open-book "
        "run of the same model and prompt, over the instances both scored that are not unanswerable by design. "
        "Gap = open - closed: the part of the score that needed the context (95% paired cluster-bootstrap "
        "interval over queries); closed share = closed / open: how much of it the model reaches from memory. "
        "On the bundled famous databases a gap near 0 means the model answers from what it knows, not from "
        "what it reads. Data: original, or counterfactual (a `perturb` suite such as `paper-counterfactual`: values "
        "rewritten, so memory cannot help and the closed score should fall to the floor; runs pair only on the "
        "same data).",
        "",
    ]
    t = found.table
    if not t.empty:
        shown = pd.DataFrame(
            {
                "model": t["model"],
                "prompt": t["prompt"],
                "data": t["data"],
                "category": t["category"],
                "open": t["open"],
                "closed": t["closed"],
                "gap [95% CI]": [
                    f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                    for g, lo, hi in zip(t["gap"], t["gap_ci_low"], t["gap_ci_high"], strict=True)
                ],
                "closed share": t["closed_share"],
                "n": t["n"],
                "queries": t["queries"],
                "open only": t["open_only"],
                "closed only": t["closed_only"],
            }
        )
        lines += [render(shown), "", "CSV: `tables/closed_book.csv`; open only / closed only: left out.", ""]
    lines += [f"Note: {note}." for note in found.notes]
    return [*lines, ""] if found.notes else lines
