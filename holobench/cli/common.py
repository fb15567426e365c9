"""What the command modules share, so each says it once: the consoles, the option types, the
up-front range check, the progress bar and the score summary."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from holobench.errors import HoloBenchError

# Piped output (make bench, CI logs) gets room for whole tables instead of rich's 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        help="bundled | spider:<dir> | hub:<dir or owner/name> | sqlite:<file> | duckdb:<file> | files:<dir>",
    ),
]
KeyEnvOpt = Annotated[
    str | None,
    typer.Option(help="environment variable holding the API key (must be set; default: OPENAI_API_KEY if set)"),
]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="folder of <db_id>/<table>.j2 templates (Spider sources)")
]


def in_range(option: str, value: float | None, low: float, high: float = math.inf, *, above: bool = False) -> None:
    """A numeric option checked before any work: finite, and within [low, high] (or (low, high])."""
    if value is None:
        return
    if not math.isfinite(value) or value < low or (above and value == low) or value > high:
        bound = f"{'above' if above else 'at least'} {low:g}" + (f" and at most {high:g}" if high < math.inf else "")
        raise HoloBenchError(f"{option} {value}: give a number {bound}")


# --------------------------------------------------------------------------- progress


class LazyProgress(Progress):
    """A progress bar that appears with its first update: an error found before any work (a bad
    instances file, a locked folder) is then the only line on stderr."""

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live.is_started:
            self.stop()

    def update(self, task_id: TaskID, **fields: Any) -> None:
        if not self.live.is_started:
            self.start()
        super().update(task_id, **fields)


# --------------------------------------------------------------------------- scores


def print_summary(summary: dict[str, object], where: Path) -> None:
    """A scoring's one-row table (counts and rates) and where its files are."""
    columns = ("instances", "scored", "skipped", "failed", "truncated", "missing")
    rates = ("mean_score", "answer_accuracy", "abstention_accuracy", "mean_precision")
    table = Table("model", "scorer", *columns, "score", "answer acc.", "abstention acc.", "precision")

    def rate(key: str) -> str:
        value = summary.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "n/a"

    table.add_row(
        escape(str(summary.get("model"))),
        str(summary.get("scorer")),
        *(str(summary.get(k, 0)) for k in columns),
        *(rate(k) for k in rates),
    )
    out.print(table)
    out.print(f"scores: {where / 'scores.jsonl'}; summary: {where / 'summary.json'}", markup=False)
