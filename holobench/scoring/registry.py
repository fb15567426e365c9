"""Scorers by name, one line each: the CLI's ``--scorer`` choices and help come from here.

A new scorer is one module with a :class:`~holobench.scoring.run.Scorer` subclass (with a
``from_options`` class method) plus one line below.
"""

from __future__ import annotations

import importlib

from holobench.errors import HoloBenchError
from holobench.scoring.run import Scorer, ScorerOptions

#: name -> (module, class, what it is, for ``--help``)
SCORERS: dict[str, tuple[str, str, str]] = {
    "match": ("holobench.scoring.score", "MatchScorer", "deterministic, offline"),
    "judge": ("holobench.scoring.judge", "JudgeScorer", "an LLM"),
}


def scorer_help() -> str:
    return " | ".join(f"{name} ({about})" for name, (_, _, about) in SCORERS.items())


def create_scorer(name: str, options: ScorerOptions) -> Scorer:
    """The named scorer, built from the options it reads (imported only when chosen)."""
    if name not in SCORERS:
        choices = " or ".join(f"--scorer {n}" for n in SCORERS)
        raise HoloBenchError(f"unknown scorer {name!r}; use {choices}")
    module, cls, _ = SCORERS[name]
    scorer_class: type[Scorer] = getattr(importlib.import_module(module), cls)
    return scorer_class.from_options(options)
