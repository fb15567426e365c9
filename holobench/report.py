"""``holobench report``: scored runs -> Markdown and CSV tables with confidence intervals, and plots.

Output folder layout::

    report.md            every table, rendered, with the plots embedded
    summary.json         per run: counts (scored / skipped / failed) and the overall mean with its CI
    tables/<name>.csv    one CSV per table (mean, ci_low, ci_high, n, queries, skipped, failed)
    tables/paired.csv    with two or more runs: each pair's paired difference and its interval
    tables/closed_book.csv  with a closed-book run: open - closed per category (holobench.closed_book)
    tables/cost.csv      tokens (prompt-cache reads and writes apart) and cost per run (holobench.costs)
    tables/position_by_decile.csv, tables/position_by_placement.csv
                         recall of gold rows by where their lines sit, when the instances are known
    plots/<name>.png|svg the figures

A folder is written under a temporary name and moved into place at the end, so a failed report
never leaves a half-written one behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from holobench import plots
from holobench._io import staged_dir
from holobench._version import __version__
from holobench.aggregate import N_BOOT, SEED, TABLES, Run, all_tables, frame, run_labels, table
from holobench.closed_book import closed_book_markdown, closed_book_table
from holobench.costs import write_costs
from holobench.errors import HoloBenchError
from holobench.paired import all_pairs, interval_text, paired_frame
from holobench.position import manifest_instances, position_frame, read_carriers, recall_by_decile, recall_by_placement
from holobench.records import PairedDifference, ScoreRecord
from holobench.scoring.run import SCORES_FILE, read_scores
from holobench.scoring.trust import score_problems


def find_scores(path: Path, scorer: str = "match") -> Path:
    """A run folder (``<run>/scores/<scorer>``), a score folder, or a scores.jsonl."""
    for candidate in (path / "scores" / scorer / SCORES_FILE, path / SCORES_FILE, path):
        if candidate.is_file():
            return candidate
    raise HoloBenchError(
        f"{path}: no {scorer} scores found; run 'holobench score --predictions {path}' first, or pass the score folder"
    )


def _check_one_run(path: Path, records: list[ScoreRecord]) -> None:
    """Scores a report may average: one run of one model under one scorer, each instance once,
    every score in [0, 1] and equal to what its labels give."""
    if not records:
        raise HoloBenchError(f"{path}: has no score records; score a run with predictions first")
    problems = score_problems(records)
    if problems:
        raise HoloBenchError(f"{path}: {problems[0].removeprefix(SCORES_FILE + ': ')}")
    for what, values in (
        ("scorers", {r.scorer for r in records}),
        ("scorer settings", {r.scorer_version or "unrecorded" for r in records}),
        ("runs", {f"{r.backend}/{r.model}/{r.prompt}" for r in records}),
    ):
        if len(values) > 1:
            raise HoloBenchError(
                f"{path}: mixes {len(values)} {what} ({', '.join(sorted(values))}); "
                "score each run on its own and pass the score folders separately"
            )
    seen: set[str] = set()
    for r in records:
        if r.id in seen:
            raise HoloBenchError(f"{path}: instance {r.id} is scored twice; re-score the run")
        seen.add(r.id)


def load_runs(paths: list[Path], scorer: str = "match") -> list[Run]:
    if not paths:
        raise HoloBenchError("report needs at least one run or score folder")
    found = [find_scores(p, scorer) for p in paths]
    record_sets = [read_scores(f) for f in found]
    for f, records in zip(found, record_sets, strict=True):
        _check_one_run(f, records)
    scorers = [f"{records[0].scorer} ({records[0].scorer_version or 'settings unrecorded'})" for records in record_sets]
    if len(set(scorers)) > 1:
        other = next(i for i, s in enumerate(scorers) if s != scorers[0])
        raise HoloBenchError(
            f"{found[other]}: scored by {scorers[other]!r} but {found[0]} by {scorers[0]!r}; "
            "a report compares runs under one scorer (score them alike, or report each scorer apart)"
        )
    return [Run(label, records) for label, records in zip(run_labels(record_sets), record_sets, strict=True)]


_RUN_COLUMNS = (
    "label",
    "backend",
    "prompt",
    "scorer",
    "instances",
    "scored",
    "skipped",
    "failed",
    "truncated",
    "mean",
    "ci_low",
    "ci_high",
)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3f}" if abs(value) < 10 else f"{value:g}"
    return str(value)


def markdown_table(df: pd.DataFrame) -> str:
    """A pipe table, with the score and its interval in one column."""
    shown = df.copy()
    if "mean" in shown.columns:
        shown.insert(
            len(
                [
                    c
                    for c in shown.columns
                    if c not in ("mean", "ci_low", "ci_high", "n", "queries", "skipped", "failed", "truncated")
                ]
            ),
            "score [95% CI]",
            [
                "n/a" if pd.isna(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in zip(shown["mean"], shown["ci_low"], shown["ci_high"], strict=True)
            ],
        )
        shown = shown.drop(columns=["mean", "ci_low", "ci_high"])
    header = "| " + " | ".join(str(c) for c in shown.columns) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(shown[c]) else "---" for c in shown.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def run_summary(run: Run, overall: pd.Series) -> dict[str, Any]:
    """Counts for one run, and its row of the overall table (mean and interval)."""
    records: list[ScoreRecord] = run.records
    first = records[0]

    def num(key: str) -> float | None:
        return None if pd.isna(overall[key]) else round(float(overall[key]), 6)

    return {
        "label": run.label,
        "model": first.model,
        "backend": first.backend,
        "prompt": first.prompt,
        "scorer": first.scorer,
        "instances": len(records),
        "scored": sum(r.status == "scored" for r in records),
        "skipped": sum(r.status == "skipped" for r in records),
        "failed": sum(r.status == "failed" for r in records),
        "truncated": sum(r.status == "truncated" for r in records),
        "mean": num("mean"),
        "ci_low": num("ci_low"),
        "ci_high": num("ci_high"),
    }


def draw_plots(df: pd.DataFrame, out_dir: Path, tables: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """The report's figures; tables already computed for ``df`` are reused, the rest computed."""
    tables = tables or {}

    def get(name: str) -> pd.DataFrame:
        return tables[name] if name in tables else table(df, TABLES[name])

    paths = plots.score_vs_length(table(df, ["category", "target_tokens"]), out_dir)
    paths += plots.score_by_placement(get("placement"), out_dir)
    paths += plots.length_density_heatmap(get("length_x_setting"), out_dir)
    paths += plots.recall_vs_score(df, out_dir)
    return paths


def write_report(
    paths: list[Path],
    out: Path,
    *,
    scorer: str = "match",
    n_boot: int = N_BOOT,
    seed: int = SEED,
    instances: Path | None = None,
    position: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The report folder. ``instances`` (default: the file each run's manifest names) lets it add
    recall by position; ``position=False`` leaves that section out, ``progress`` counts its work."""
    runs = load_runs(paths, scorer)
    df = frame(runs)
    tables = all_tables(df, n_boot=n_boot, seed=seed)
    overall = tables["overall"].set_index("model")
    with staged_dir(out, "report") as staging:
        (staging / "tables").mkdir()
        for name, t in tables.items():
            t.to_csv(staging / "tables" / f"{name}.csv", index=False, float_format="%.6g")
        figures = draw_plots(df, staging / "plots", tables)
        section, note = (
            position_section(runs, paths, staging, instances, n_boot=n_boot, seed=seed, progress=progress)
            if position
            else ([], "not asked for")
        )
        summaries = [run_summary(run, overall.loc[run.label]) for run in runs]
        summary = {
            "holobench_version": __version__,
            "scorer": scorer,
            "bootstrap": {"resamples": n_boot, "seed": seed, "unit": "query", "interval": "95% percentile"},
            "runs": summaries,
            "position": note,
        }
        paired = _write_paired(runs, staging, summary, n_boot=n_boot, seed=seed)
        paired += _write_closed_book(runs, staging, summary, n_boot=n_boot, seed=seed)
        paired += write_costs(runs, paths, staging, summary)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        markdown = "\n".join([_markdown(summaries, tables, figures, paired), *section])
        (staging / "report.md").write_text(markdown, encoding="utf-8")
    return summary


def position_section(
    runs: list[Run],
    paths: list[Path],
    out_dir: Path,
    instances: Path | None,
    *,
    n_boot: int,
    seed: int,
    progress: Callable[[int], None] | None,
) -> tuple[list[str], str]:
    """Recall by where the gold rows' lines sit: two CSVs, a plot and the section's Markdown, with a
    one-line note; without an instances file (given, or named by a run's manifest and present
    here) only a note. A given file must work; one found from a manifest is skipped if it fails."""
    if instances is not None and not instances.exists():
        raise HoloBenchError(f"{instances}: no instances file here; pass the file the runs answered")
    files = [instances if instances is not None else manifest_instances(p) for p in paths]
    wanted: dict[Path, set[str]] = {}
    for run, file in zip(runs, files, strict=True):
        if file is not None:
            wanted.setdefault(file, set()).update(r.id for r in run.records if r.status == "scored")
    if not wanted:
        note = "skipped: no instances file known (pass --instances; no run manifest names one that is here)"
        return ["## Recall by position", "", f"Recall by position {note}.", ""], note
    found = {}
    untraced: dict[str, str] = {}  # one instance that cannot be traced does not cost the others
    try:
        for file, ids in wanted.items():
            found.update(read_carriers(file, ids, progress, untraced))
    except HoloBenchError as exc:
        if instances is not None:
            raise
        note = f"skipped: {exc}"
        return ["## Recall by position", "", f"Recall by position {note}.", ""], note
    df = position_frame(runs, found)
    by_decile = recall_by_decile(df, n_boot=n_boot, seed=seed)
    by_placement = recall_by_placement(df, n_boot=n_boot, seed=seed)
    by_decile.to_csv(out_dir / "tables" / "position_by_decile.csv", index=False, float_format="%.6g")
    by_placement.to_csv(out_dir / "tables" / "position_by_placement.csv", index=False, float_format="%.6g")
    figures = plots.recall_by_position(by_decile, out_dir / "plots")
    left_out = sum(file is None for file in files)
    note = f"{len(found)} instances of {', '.join(str(f) for f in wanted)}" + (
        f"; {left_out} runs without an instances file left out" if left_out else ""
    )
    if untraced:
        first = min(untraced)
        note += f"; {len(untraced)} instances could not be traced and are left out (e.g. {first}: {untraced[first]})"
    return _position_markdown(by_decile, by_placement, figures, note), note


def _position_markdown(
    by_decile: pd.DataFrame, by_placement: pd.DataFrame, figures: list[Path], note: str
) -> list[str]:
    """Both tables pooled over categories (model x decile, model x placement); CSVs have the rest."""

    def pivot(df: pd.DataFrame, column: str) -> pd.DataFrame:
        pooled = df[df["category"] == "all"]
        return pooled.pivot_table(index="model", columns=column, values="recall").reset_index()

    lines = [
        "## Recall by position",
        "",
        "Each judged gold row is traced to the relevant lines that carry it (removing one loses the row "
        "from the gold answer); recall is the mean credit (exact 1, partial 0.5) of the gold rows whose "
        "lines sit in each tenth of the context (0: the start), each row counted once, split among its "
        f"lines. Instances unanswerable by design are left out. From {note}.",
        "",
        "By decile of the context (all categories):",
        "",
        markdown_table(pivot(by_decile, "decile")) if not by_decile.empty else "(no gold rows traced)",
        "",
        "By placement, per gold row (all categories):",
        "",
        markdown_table(pivot(by_placement, "placement")) if not by_placement.empty else "(no gold rows traced)",
        "",
        "CSV with intervals and per category: `tables/position_by_decile.csv`, `tables/position_by_placement.csv`",
        "",
    ]
    lines += [f"![{p.stem}](plots/{p.name})" for p in figures if p.suffix == ".png"]
    return [*lines, ""]


def _markdown(
    summaries: list[dict[str, Any]],
    tables: dict[str, pd.DataFrame],
    figures: list[Path],
    paired: list[str] | None = None,
) -> str:
    lines = [
        "# HoloBench report",
        "",
        f"holobench {__version__}. Scores are the paper's recall-oriented accuracy "
        "((exact + 0.5 x partial) / judged gold rows); intervals are 95% bootstrap intervals over queries. "
        "Skipped and failed predictions are counted apart and never averaged in.",
        "",
        "## Runs",
        "",
        markdown_table(pd.DataFrame(summaries)[list(_RUN_COLUMNS)]),
        "",
    ]
    titles = {
        "overall": "Overall",
        "length": "By context length",
        "setting": "By information setting",
        "placement": "By placement",
        "category": "By category",
        "database": "By database",
        "length_x_setting": "By length x setting",
        "answerability": "Answer accuracy (answerable) and abstention accuracy (unanswerable by design)",
        "precision": "Precision (share of answer items that match a gold row)",
        "retrieval_recall": "RAG retrieval recall of relevant rows",
    }
    for name, t in tables.items():
        lines += [f"## {titles.get(name, name)}", "", markdown_table(t), "", f"CSV: `tables/{name}.csv`", ""]
    lines += paired or []
    pngs = [f for f in figures if f.suffix == ".png"]
    if pngs:
        lines += ["## Plots", ""]
        lines += [f"![{p.stem}](plots/{p.name})" for p in pngs]
        lines.append("")
    return "\n".join(lines)


def _write_paired(runs: list[Run], staging: Path, summary: dict[str, Any], *, n_boot: int, seed: int) -> list[str]:
    """With two or more runs: ``tables/paired.csv``, the pairs in ``summary`` (``paired`` and
    ``paired_skipped``), and the report's Markdown section; nothing for a single run."""
    if len(runs) < 2:
        return []
    found = all_pairs(runs, n_boot=n_boot, seed=seed)
    pairs, skipped = list(found.pairs.values()), found.skipped
    paired_frame(pairs).to_csv(staging / "tables" / "paired.csv", index=False, float_format="%.6g")
    summary["paired"] = [p.model_dump() for p in pairs]
    summary["paired_skipped"] = skipped
    return _paired_markdown(pairs, skipped)


def _write_closed_book(runs: list[Run], staging: Path, summary: dict[str, Any], *, n_boot: int, seed: int) -> list[str]:
    """With a closed-book run: ``tables/closed_book.csv``, ``summary["closed_book"]`` and the section."""
    found = closed_book_table(runs, n_boot=n_boot, seed=seed)
    if found is None:
        return []
    found.table.to_csv(staging / "tables" / "closed_book.csv", index=False, float_format="%.6g")
    rows = json.loads(found.table.to_json(orient="records"))
    summary["closed_book"] = {"rows": rows, "notes": found.notes}
    return closed_book_markdown(found, markdown_table)


def _paired_markdown(pairs: list[PairedDifference], skipped: list[str]) -> list[str]:
    """The "Paired comparisons" section: one row per pair of runs scored on the same instances."""
    lines = [
        "## Paired comparisons",
        "",
        "A - B over the instances both runs scored, with a 95% paired cluster-bootstrap interval: each "
        "resample draws queries once for both runs and recomputes mean(A) - mean(B) over their instances. "
        "Separable: the interval excludes 0 (never with fewer than two queries).",
        "",
    ]
    if pairs:
        shown = pd.DataFrame(
            {
                "A": [p.a for p in pairs],
                "B": [p.b for p in pairs],
                "A - B [95% CI]": [interval_text(p) for p in pairs],
                "separable": ["yes" if p.separable else "no" for p in pairs],
                "mean A": [p.mean_a for p in pairs],
                "mean B": [p.mean_b for p in pairs],
                "pairs": [p.n_pairs for p in pairs],
                "queries": [p.queries for p in pairs],
                "A only": [p.only_a for p in pairs],
                "B only": [p.only_b for p in pairs],
            }
        )
        lines += [
            markdown_table(shown),
            "",
            "CSV: `tables/paired.csv`; A only / B only: scored in one run, left out.",
            "",
        ]
    if skipped:
        lines += ["Pairs skipped:", "", *(f"* {note}" for note in skipped), ""]
    return lines
