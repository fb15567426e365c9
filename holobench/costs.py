"""The report's token and cost table, read from each run's predictions journal.

Prompt tokens are shown with those read from (and, Anthropic, written to) the provider's prompt
cache apart, since they are priced at their own rates; the cost is what each answer was priced at
when it came back (batch answers at the batch discount).  Answers served from holobench's own
response cache cost nothing in this run and are counted apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from holobench.aggregate import Run
from holobench.journal import Journal

COLUMNS = (
    "model",
    "answered",
    "from_response_cache",
    "prompt_tokens",
    "cached_prompt_tokens",
    "cache_write_tokens",
    "completion_tokens",
    "cost_usd",
)


def cost_row(label: str, journal: Path) -> dict[str, Any]:
    """One run's totals; ``cost_usd`` is empty when any paid answer had no known price."""
    answered = [p for p in Journal(journal).load(repair=False).values() if p.status == "ok"]
    paid = [p for p in answered if not p.cached]
    costs = [p.cost_usd for p in paid]
    return {
        "model": label,
        "answered": len(answered),
        "from_response_cache": len(answered) - len(paid),
        "prompt_tokens": sum(p.usage.prompt_tokens for p in paid),
        "cached_prompt_tokens": sum(p.usage.cached_prompt_tokens for p in paid),
        "cache_write_tokens": sum(p.usage.cache_write_tokens for p in paid),
        "completion_tokens": sum(p.usage.completion_tokens for p in paid),
        "cost_usd": round(sum(c for c in costs if c is not None), 6) if None not in costs else None,
    }


def write_costs(runs: list[Run], paths: list[Path], staging: Path, summary: dict[str, Any]) -> list[str]:
    """``tables/cost.csv``, ``summary["cost"]`` and the report's section, for the inputs that
    are run folders (a score folder alone has no journal: left out)."""
    rows = [
        cost_row(run.label, path / "predictions.jsonl")
        for run, path in zip(runs, paths, strict=True)
        if (path / "predictions.jsonl").is_file()
    ]
    if not rows:
        return []
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.to_csv(staging / "tables" / "cost.csv", index=False)
    summary["cost"] = rows
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [
            f"{v:,}" if isinstance(v, int) else f"{v:.4f}" if isinstance(v, float) else str(v or "")
            for v in row.values()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "Prompt tokens include those read from the provider's prompt cache (`cached_prompt_tokens`) and "
        "written to it (`cache_write_tokens`), each priced at its own rate; batch answers cost the batch price."
    )
    return ["## Tokens and cost", "", note, "", *lines, "", "CSV: `tables/cost.csv`", ""]
