"""Publishing: ``submit`` packs and validates a scored run; ``leaderboard`` renders the site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from holobench._io import check_output_dir, check_output_file
from holobench.cli.common import err, out

submit_app = typer.Typer(help="Leaderboard submissions: pack and validate.", no_args_is_help=True)
leaderboard_app = typer.Typer(help="The static leaderboard site.", no_args_is_help=True)


@submit_app.command("pack")
def submit_pack(
    run_dir: Annotated[Path, typer.Argument(help="a scored run folder")],
    output: Annotated[Path, typer.Option("--out", "-o", help="a folder, or an archive ending .tar.gz / .zip")],
    suite: Annotated[str, typer.Option(help="the suite's name, e.g. smoke or paper")],
    scores: Annotated[Path | None, typer.Option(help="score folder (default: <run>/scores/<scorer>)")] = None,
    scorer: Annotated[str, typer.Option(help="which scores to pack")] = "match",
    label: Annotated[str | None, typer.Option(help="name shown on the leaderboard (default: the model)")] = None,
    notes: Annotated[str, typer.Option(help="free text shown on the entry's page")] = "",
    report: Annotated[Path | None, typer.Option(help="a report folder to include")] = None,
) -> None:
    """Bundle a run's manifest, predictions and scores for the leaderboard."""
    from holobench.submit import pack

    if output.name.lower().endswith((".tar.gz", ".tgz", ".zip")):
        check_output_file(output)
    else:
        check_output_dir(output, "submission")
    path = pack(
        run_dir, scores or run_dir / "scores" / scorer, output, suite=suite, label=label, notes=notes, report_dir=report
    )
    out.print(f"submission: {path}", markup=False)


@submit_app.command("validate")
def submit_validate(
    path: Annotated[Path, typer.Argument(help="a submission folder or archive")],
    instances: Annotated[
        Path | None, typer.Option(help="the suite's instances file, to check every instance is there")
    ] = None,
) -> None:
    """Check a submission's schema, suite hash, completeness, sizes and archive safety."""
    from holobench.submit import validate

    sub = validate(path, instances)
    from holobench.environment import describe

    checked = "against the suite" if instances else "internally (pass --instances to check against the suite)"
    out.print(
        f"{path}: valid: {sub.manifest.label} on {sub.manifest.suite}, {len(sub.scores)} instances, checked {checked}",
        markup=False,
    )
    for part in ("suite", "run"):
        recorded = sub.manifest.versions.get(part)
        shown = describe(recorded) if isinstance(recorded, dict) else "not recorded"
        out.print(f"  {part} versions: {shown}", markup=False)
    for flag in sub.flags:
        err.print(f"flag: {path}: {flag}", markup=False)


@leaderboard_app.command("build")
def leaderboard_build(
    submissions: Annotated[list[Path], typer.Argument(help="submission folders or archives")],
    output: Annotated[Path, typer.Option("--out", "-o", help="site folder")],
    instances: Annotated[Path | None, typer.Option(help="the suite's instances file (full validation)")] = None,
    verify_gold: Annotated[
        bool, typer.Option(help="recompute every gold answer from --instances with the engines here first")
    ] = True,
) -> None:
    """Validate submissions and render the static leaderboard site."""
    from holobench.leaderboard import NOT_SEPARABLE, build

    check_output_dir(output, "site")
    summary = build(submissions, output, instances=instances, verify_gold=verify_gold)
    out.print(f"gold answers: {summary['gold']}", markup=False)
    table = Table("#", "entry", "score", "95% CI")
    for e in summary["entries"]:
        rank = ("≈ " if e["separable_from_above"] is False else "") + str(e["rank"])
        table.add_row(rank, escape(e["label"]), "n/a" if e["score"] is None else f"{e['score']:.3f}", e["ci"])
    out.print(table)
    if any(e["separable_from_above"] is False for e in summary["entries"]):
        out.print(f"≈ {NOT_SEPARABLE}", markup=False)
    out.print(f"leaderboard: {output / 'index.html'}", markup=False)
