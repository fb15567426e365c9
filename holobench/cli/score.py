"""Judging answers: ``score`` a run, the ``agreement`` of two scorings, and the ``report``
that puts runs side by side with confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from holobench._io import check_output_dir
from holobench.cli.common import (
    RESPONSE_CACHE,
    BackendFlags,
    JudgeBackendOpt,
    JudgeBaseUrlOpt,
    JudgeCacheDirOpt,
    JudgeConcurrencyOpt,
    JudgeMaxRetriesOpt,
    JudgeModelOpt,
    JudgeOptionOpt,
    KeyEnvOpt,
    err,
    in_range,
    out,
    print_summary,
    progress_bar,
)
from holobench.errors import HoloBenchError
from holobench.scoring.registry import scorer_help


def score(
    instances: Annotated[
        Path, typer.Option(help="the instances file the run answered, or its export folder (holobench export)")
    ],
    predictions: Annotated[Path, typer.Option(help="a run folder or its predictions.jsonl")],
    scorer: Annotated[str, typer.Option(help=scorer_help())] = "match",
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="score folder (default: <run>/scores/<scorer>)")
    ] = None,
    rel_tol: Annotated[float, typer.Option(help="match: relative tolerance for non-integer numbers")] = 0.01,
    judge_backend: JudgeBackendOpt = "openai",
    judge_model: JudgeModelOpt = None,
    judge_base_url: JudgeBaseUrlOpt = None,
    api_key_env: KeyEnvOpt = None,
    judge_option: JudgeOptionOpt = None,
    concurrency: JudgeConcurrencyOpt = 8,
    max_retries: JudgeMaxRetriesOpt = 4,
    malformed_retries: Annotated[int, typer.Option(help="judge: re-asks when labels do not fit the schema")] = 2,
    cache_dir: JudgeCacheDirOpt = RESPONSE_CACHE,
) -> None:
    """Score a run's predictions; rescoring never calls the answering model again."""
    judge = BackendFlags(
        judge_backend, judge_model, judge_base_url, api_key_env, judge_option, concurrency, max_retries, cache_dir
    )
    in_range("--rel-tol", rel_tol, 0, 1)
    judge.check_limits()
    in_range("--malformed-retries", malformed_retries, 0)
    from holobench.scoring.registry import create_scorer
    from holobench.scoring.run import ScorerOptions, default_out, score_run

    where = output or default_out(predictions, scorer)
    check_output_dir(where, "scores")
    judge.check_url("--judge-base-url")
    chosen = create_scorer(scorer, ScorerOptions(rel_tol=rel_tol, judge=judge.judge_settings(malformed_retries)))
    import asyncio

    from holobench.export import instances_file

    with instances_file(instances) as path:
        summary = asyncio.run(score_run(chosen, path, predictions, where))
    print_summary(summary, where)
    if summary.get("missing"):
        err.print(f"note: {summary['missing']} instances have no prediction in {predictions}", markup=False)


def agreement_cmd(
    left: Annotated[Path, typer.Argument(help="score folder, scores.jsonl, or a run folder")],
    right: Annotated[
        Path | None, typer.Argument(help="the other scoring (default: the same run's judge scores)")
    ] = None,
    left_scorer: Annotated[str, typer.Option(help="scorer to read from a run folder on the left")] = "match",
    right_scorer: Annotated[str, typer.Option(help="scorer to read from a run folder on the right")] = "judge",
) -> None:
    """Per-label agreement and Cohen's kappa between two scorings of the same predictions."""
    from holobench.report import find_scores
    from holobench.scoring.compare import compare_records
    from holobench.scoring.run import read_scores

    a = read_scores(find_scores(left, left_scorer))
    b = read_scores(find_scores(right or left, right_scorer))
    result = compare_records(a, b)
    if not result["rows"]:
        raise HoloBenchError(
            f"{left} and {right or left}: no instance is scored on both sides; score the same run twice"
        )
    for warning in result["warnings"]:
        err.print(f"warning: {warning}", markup=False)
    table = Table(f"{left_scorer} \\ {right_scorer}", *(k for k in result["confusion"]))
    for k, row in result["confusion"].items():
        table.add_row(k, *(str(v) for v in row.values()))
    out.print(table)
    out.print(
        f"{result['instances']} instances, {result['rows']} gold rows: agreement {result['agreement']:.3f}, "
        f"Cohen's kappa {result['kappa'] if result['kappa'] is None else format(result['kappa'], '.3f')}, "
        f"mean |score difference| {result['mean_abs_score_gap']:.3f}",
        markup=False,
    )
    per = Table("category", "gold rows", "agreement", "kappa")
    for category, row in result["by_category"].items():
        kappa = "n/a" if row["kappa"] is None else f"{row['kappa']:.3f}"
        per.add_row(category, str(row["rows"]), f"{row['agreement']:.3f}", kappa)
    out.print(per)


def report_cmd(
    runs: Annotated[list[Path], typer.Argument(help="run folders (scored) or score folders")],
    output: Annotated[Path, typer.Option("--out", "-o", help="report folder")],
    scorer: Annotated[str, typer.Option(help="which scores to read from run folders")] = "match",
    resamples: Annotated[int, typer.Option(help="bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    instances: Annotated[
        Path | None,
        typer.Option(help="instances file, for recall by position (default: the one each run's manifest names)"),
    ] = None,
    position: Annotated[bool, typer.Option(help="recall by where the gold rows' lines sit in the context")] = True,
) -> None:
    """Markdown and CSV tables with 95% bootstrap intervals, and plots (PNG and SVG)."""
    in_range("--resamples", resamples, 1)
    check_output_dir(output, "report")
    from holobench.report import write_report

    with progress_bar() as bar:
        task = bar.add_task("tracing gold rows", total=None)
        summary = write_report(
            runs,
            output,
            scorer=scorer,
            n_boot=resamples,
            seed=seed,
            instances=instances,
            position=position,
            progress=lambda done: bar.update(task, completed=done),
        )
    table = Table("run", "instances", "scored", "skipped", "failed", "truncated", "score [95% CI]")
    for r in summary["runs"]:
        ci = "n/a" if r["mean"] is None else f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        counts = (str(r[k]) for k in ("instances", "scored", "skipped", "failed", "truncated"))
        table.add_row(escape(r["label"]), *counts, ci)
    out.print(table)
    _print_pivot(output / "tables" / "category.csv", "category", "score by category")
    _print_pivot(output / "tables" / "answerability.csv", "answerable", "answerable / unanswerable instances")
    _print_paired(summary)
    _print_closed_book(summary)
    if position:
        err.print(f"recall by position: {summary['position']}", markup=False)
    out.print(f"report: {output / 'report.md'}", markup=False)


def _print_paired(summary: dict[str, Any]) -> None:
    """The report's paired comparisons (two or more runs), and the pairs it skipped."""
    from holobench.paired import interval_text
    from holobench.records import PairedDifference

    pairs = [PairedDifference.model_validate(p) for p in summary.get("paired") or []]
    if pairs:
        table = Table("A", "B", "A - B [95% CI]", "separable", "pairs", "queries", title="Paired comparisons")
        for p in pairs:
            separable = "yes" if p.separable else "no"
            table.add_row(escape(p.a), escape(p.b), interval_text(p), separable, str(p.n_pairs), str(p.queries))
        out.print(table)
    for note in summary.get("paired_skipped") or []:
        out.print(f"paired comparison skipped: {note}", markup=False)


def _print_closed_book(summary: dict[str, Any]) -> None:
    """Closed book vs open book, all categories pooled (the report and its CSV split them)."""
    found = summary.get("closed_book") or {}
    rows = [r for r in found.get("rows", []) if r["category"] == "all"]
    if rows:
        title = "Closed book vs open book (answerable instances)"
        table = Table(
            "model", "prompt", "data", "open", "closed", "gap (open - closed)", "closed share", "n", title=title
        )
        for r in rows:
            share = "n/a" if r["closed_share"] is None else f"{r['closed_share']:.2f}"
            gap = f"{r['gap']:+.3f} [{r['gap_ci_low']:+.3f}, {r['gap_ci_high']:+.3f}]"
            table.add_row(
                escape(r["model"]),
                r["prompt"],
                r.get("data", "original"),
                f"{r['open']:.3f}",
                f"{r['closed']:.3f}",
                gap,
                share,
                str(r["n"]),
            )
        out.print(table)
    for note in found.get("notes", []):
        out.print(f"closed book: {note}", markup=False)


def _print_pivot(path: Path, column: str, title: str) -> None:
    """One row per run, one column per group, from a report table (means only)."""
    import csv

    if not path.is_file():
        return
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups = list(dict.fromkeys(r[column] for r in rows))
    runs = list(dict.fromkeys(r["model"] for r in rows))
    means = {(r["model"], r[column]): r["mean"] for r in rows}
    table = Table("run", *groups, title=title)
    for run in runs:
        cells = (means.get((run, g), "") for g in groups)
        table.add_row(escape(run), *("n/a" if not v else f"{float(v):.3f}" for v in cells))
    out.print(table)
