"""Making instances: ``generate`` (a whole suite, or one query given on the command line) and
the ``suite`` group that says what a generated suite measures."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from holobench._io import atomic_write_text, check_output_dir, check_output_file
from holobench.cli.common import LazyProgress, SourceOpt, TemplatesOpt, err, in_range, out
from holobench.errors import HoloBenchError
from holobench.records import Placement
from holobench.sources import open_source

suite_app = typer.Typer(help="Generated suites: what they measure.", no_args_is_help=True)


def generate(
    output: Annotated[Path, typer.Option("--out", "-o", help="suite: output folder; ad hoc: a .jsonl file")],
    suite: Annotated[
        str | None, typer.Option(help="suite YAML file, or a bundled suite: paper, paper-official, smoke")
    ] = None,
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
    db: Annotated[str | None, typer.Option(help="ad hoc: database id")] = None,
    sql: Annotated[str | None, typer.Option(help="ad hoc: the SQL (SQLite dialect)")] = None,
    question: Annotated[str | None, typer.Option(help="ad hoc: the natural-language question")] = None,
    query_id: Annotated[str, typer.Option(help="ad hoc: an id for the query")] = "adhoc",
    length: Annotated[int, typer.Option(help="ad hoc: target context length in tokens")] = 4096,
    amount: Annotated[int | None, typer.Option(help="ad hoc: tokens of relevant rows")] = None,
    density: Annotated[float | None, typer.Option(help="ad hoc: share of the context for relevant rows")] = None,
    placement: Annotated[str, typer.Option(help="begin|end|middle|bimodal|uniform|random")] = "uniform",
    seed: Annotated[int, typer.Option(help="ad hoc: sampling seed")] = 0,
    tokenizer: Annotated[str, typer.Option(help="o200k_base | cl100k_base | hf:qwen3 | hf:llama3 | hf:<file>")] = (
        "o200k_base"
    ),
    fillers: Annotated[str, typer.Option(help="ad hoc: filler databases (comma list), 'auto' or 'none'")] = "auto",
    parquet: Annotated[bool, typer.Option(help="suite: also write instances.parquet")] = False,
    category: Annotated[list[str] | None, typer.Option(help="ad hoc: categories (default: by the rules)")] = None,
    workers: Annotated[int, typer.Option(help="suite: worker processes (0: one per core for large suites)")] = 0,
    sampling: Annotated[
        str, typer.Option(help="ad hoc: answerable (answer rows + near misses) or uniform (the paper's protocol)")
    ] = "answerable",
    positives: Annotated[float, typer.Option(help="ad hoc: share of the relevant budget for answer rows")] = 0.5,
    unanswerable: Annotated[
        bool, typer.Option("--unanswerable", help="ad hoc: withhold every answer row (answerable sampling)")
    ] = False,
) -> None:
    """Generate instances: a whole suite, or one query given on the command line."""
    in_range("--length", length, 1)
    in_range("--amount", amount, 1)
    in_range("--density", density, 0, 1, above=True)
    in_range("--positives", positives, 0, 1, above=True)
    in_range("--workers", workers, 0)
    if placement not in {p.value for p in Placement}:
        raise HoloBenchError(f"--placement {placement!r}: use one of {', '.join(p.value for p in Placement)}")
    if suite is not None:
        check_output_dir(output, "suite")
    else:
        check_output_file(output)
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from holobench.context import InstanceBuilder, LazyFiller
    from holobench.records import Category, Difficulty, Query
    from holobench.sql import parse, suggest_categories
    from holobench.suite import SuiteRun, generate_suite, instance_json, load_suite
    from holobench.tokenizers import get_tokenizer

    if suite is not None:
        spec = load_suite(suite)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with LazyProgress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"suite {spec.name}", total=None)
            if workers <= 0:
                workers = min(os.cpu_count() or 1, 8) if SuiteRun(spec).count() >= 500 else 1
            manifest = generate_suite(
                spec,
                output,
                parquet=parquet,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        from holobench.scoring.audit import audit_file, write_into_manifest

        audit = audit_file(output)
        write_into_manifest(audit, output)
        share = manifest["sampling"].get("unanswerable_share")
        out.print(
            f"wrote {manifest['instances']:,} instances to {output / 'instances.jsonl'} "
            f"({len(manifest['skipped'])} skipped; {manifest['sampling']['strategy']} sampling"
            + (f", {share:.1%} unanswerable" if share is not None else "")
            + f"; 'No answer' scores {audit.overall.no_answer:.3f}; manifest {output / 'manifest.json'})"
        )
        return
    if db is None or sql is None or question is None:
        raise HoloBenchError("give --suite, or --db, --sql and --question for one query")
    src = open_source(source, templates)
    database = src.open(db)
    tree = parse(sql)
    names = {c.value.lower(): c for c in Category}
    unknown = [c for c in category or [] if c.lower() not in names]
    if unknown:
        raise HoloBenchError(f"--category {unknown[0]!r}: use one of {', '.join(c.value for c in Category)}")
    cats = (
        sorted({names[c.lower()] for c in category}, key=list(Category).index)
        if category
        else sorted(suggest_categories(tree), key=list(Category).index)
    )
    query = Query(
        id=query_id, db_id=db, question=question, sql=sql, categories=tuple(cats), difficulty=Difficulty.MEDIUM
    )
    if fillers == "none":
        filler_ids: list[str] = []
    elif fillers == "auto":
        filler_ids = [d for d in src.list_databases() if d != db]
    else:
        filler_ids = [f.strip() for f in fillers.split(",") if f.strip()]
    lazy = [LazyFiller(f, functools.partial(src.open, f)) for f in filler_ids]
    builder = InstanceBuilder(database, get_tokenizer(tokenizer), fillers=lazy, source=source)
    if sampling not in ("answerable", "uniform"):
        raise HoloBenchError(f"--sampling {sampling!r}: use answerable or uniform")
    if unanswerable and sampling != "answerable":
        raise HoloBenchError("--unanswerable needs --sampling answerable (uniform sampling has no answer rows)")
    if not 0 < positives <= 1:
        raise HoloBenchError(f"--positives {positives}: give a share in (0, 1]")
    instance = builder.build(
        query,
        length,
        placement=placement,
        seed=seed,
        amount=amount,
        density=density,
        sampling=sampling,
        positives=positives,
        answerable=not unanswerable,
    )
    atomic_write_text(output, instance_json(instance) + "\n")
    st = instance.stats
    out.print(
        f"wrote {output}: {st.tokens} tokens ({st.relevant_rows} relevant, {st.auxiliary_rows} auxiliary, "
        f"{st.filler_rows} filler rows); gold {len(instance.gold.rows)} rows"
        + ("" if instance.answerable is None else f"; {'answerable' if instance.answerable else 'unanswerable'}")
    )


# --------------------------------------------------------------------------- suite


@suite_app.command("audit")
def suite_audit(
    path: Annotated[Path, typer.Argument(help="an instances file, or a suite folder")],
    as_json: Annotated[bool, typer.Option("--json", help="print the audit as JSON")] = False,
) -> None:
    """Gold shapes and trivial baselines of a generated suite, per database and per category."""
    from holobench.scoring.audit import AuditRow, audit_file

    audit = audit_file(path)
    if as_json:
        out.print(audit.model_dump_json(indent=2), markup=False)
        return
    columns = [name for name in AuditRow.model_fields if name != "group"]
    for title, rows in (
        ("overall", [audit.overall]),
        ("by database", audit.by_database),
        ("by category", audit.by_category),
    ):
        table = Table("group", *columns, title=f"{path}: {title}")
        for row in rows:
            values = row.model_dump()
            table.add_row(row.group, *("-" if values[c] is None else f"{values[c]:g}" for c in columns))
        out.print(table)
    flagged = ", ".join(f"{q} ({share:.0%})" for q, share in audit.flagged_queries.items()) or "none"
    out.print(f"queries with degenerate gold in most answerable cells: {flagged}", markup=False)


@suite_app.command("verify")
def suite_verify(path: Annotated[Path, typer.Argument(help="an instances file, or a suite folder")]) -> None:
    """Recompute every gold answer with the engines installed here and compare with the stored one."""
    from holobench.environment import describe
    from holobench.verify import verify_gold

    check = verify_gold(path)
    engines = describe(check.versions)
    if check.ok:
        out.print(f"{path}: all {check.instances:,} gold answers recomputed and equal ({engines})", markup=False)
        return
    err.print(
        f"{path}: {check.differ_count} of {check.instances:,} gold answers differ when recomputed ({engines}); "
        f"first: {', '.join(check.differ[:5])}",
        markup=False,
    )
    raise typer.Exit(1)
