"""Making instances: ``generate`` (a whole suite, or one query given on the command line) and
the ``suite`` group that says what a generated suite measures."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from holobench._io import atomic_write_text, check_output_dir, check_output_file
from holobench.cli.common import SourceOpt, TemplatesOpt, err, in_range, out, progress_bar
from holobench.context import InstanceBuilder, LazyFiller
from holobench.errors import HoloBenchError
from holobench.executors import open_executor
from holobench.perturb import perturbed
from holobench.records import Category, Difficulty, Instance, Perturbation, Placement, Query
from holobench.sources import open_source
from holobench.sources.base import Source
from holobench.sql import parse, suggest_categories
from holobench.suite import SuiteRun, filler_ids, generate_suite, instance_json
from holobench.suite_file import Suite, load_suite
from holobench.tokenizers import get_tokenizer

suite_app = typer.Typer(help="Generated suites: what they measure.", no_args_is_help=True)

# --------------------------------------------------------------------------- generate options

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="suite: output folder; ad hoc: a .jsonl file")]
SuiteOpt = Annotated[
    str | None,
    typer.Option(help="suite YAML file, or a bundled suite: paper, paper-counterfactual, paper-official, smoke"),
]
DbOpt = Annotated[str | None, typer.Option(help="ad hoc: database id")]
SqlOpt = Annotated[str | None, typer.Option(help="ad hoc: the SQL (SQLite dialect)")]
QuestionOpt = Annotated[str | None, typer.Option(help="ad hoc: the natural-language question")]
QueryIdOpt = Annotated[str, typer.Option(help="ad hoc: an id for the query")]
LengthOpt = Annotated[int, typer.Option(help="ad hoc: target context length in tokens")]
AmountOpt = Annotated[int | None, typer.Option(help="ad hoc: tokens of relevant rows")]
DensityOpt = Annotated[float | None, typer.Option(help="ad hoc: share of the context for relevant rows")]
PlacementOpt = Annotated[str, typer.Option(help="begin|end|middle|bimodal|uniform|random")]
SeedOpt = Annotated[int, typer.Option(help="ad hoc: sampling seed")]
TokenizerOpt = Annotated[str, typer.Option(help="o200k_base | cl100k_base | hf:qwen3 | hf:llama3 | hf:<file>")]
FillersOpt = Annotated[str, typer.Option(help="ad hoc: filler databases (comma list), 'auto' or 'none'")]
ParquetOpt = Annotated[bool, typer.Option(help="suite: also write instances.parquet")]
CategoryOpt = Annotated[list[str] | None, typer.Option(help="ad hoc: categories (default: by the rules)")]
WorkersOpt = Annotated[int, typer.Option(help="suite: worker processes (0: one per core for large suites)")]
ExecutorOpt = Annotated[str, typer.Option(help="suite: local (this machine's processes) or ray (a Ray cluster)")]
RayAddressOpt = Annotated[
    str | None, typer.Option(help="suite, --executor ray: the cluster (default: RAY_ADDRESS, else a local one)")
]
SamplingOpt = Annotated[
    str, typer.Option(help="ad hoc: answerable (answer rows + near misses) or uniform (the paper's protocol)")
]
PositivesOpt = Annotated[float, typer.Option(help="ad hoc: share of the relevant budget for answer rows")]
PerturbOpt = Annotated[
    int | None,
    typer.Option(
        help="counterfactual data: rewrite each database with this seed first (suite: replaces its 'perturb')"
    ),
]
UnanswerableOpt = Annotated[
    bool, typer.Option("--unanswerable", help="ad hoc: withhold every answer row (answerable sampling)")
]


def generate(
    output: OutOpt,
    suite: SuiteOpt = None,
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
    db: DbOpt = None,
    sql: SqlOpt = None,
    question: QuestionOpt = None,
    query_id: QueryIdOpt = "adhoc",
    length: LengthOpt = 4096,
    amount: AmountOpt = None,
    density: DensityOpt = None,
    placement: PlacementOpt = "uniform",
    seed: SeedOpt = 0,
    tokenizer: TokenizerOpt = "o200k_base",
    fillers: FillersOpt = "auto",
    parquet: ParquetOpt = False,
    category: CategoryOpt = None,
    workers: WorkersOpt = 0,
    sampling: SamplingOpt = "answerable",
    positives: PositivesOpt = 0.5,
    unanswerable: UnanswerableOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    perturb: PerturbOpt = None,
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
        spec = _with_perturb(load_suite(suite), perturb)
        _generate_suite(spec, output, parquet=parquet, workers=workers, executor=executor, address=ray_address)
        return
    check_output_file(output)
    if db is None or sql is None or question is None:
        raise HoloBenchError("give --suite, or --db, --sql and --question for one query")
    one = AdHoc(
        source=source,
        templates=templates,
        db=db,
        sql=sql,
        question=question,
        query_id=query_id,
        categories=tuple(category or ()),
        length=length,
        amount=amount,
        density=density,
        placement=placement,
        seed=seed,
        tokenizer=tokenizer,
        fillers=fillers,
        sampling=sampling,
        positives=positives,
        unanswerable=unanswerable,
        perturbation=None if perturb is None else Perturbation(seed=perturb),
    )
    _generate_one(one, output)


def _with_perturb(spec: Suite, seed: int | None) -> Suite:
    """--perturb SEED on a suite: its kinds of rewrite (all of them by default) with this seed."""
    if seed is None:
        return spec
    given = spec.perturb or Perturbation()
    return spec.model_copy(update={"perturb": given.model_copy(update={"seed": seed})})


def _generate_suite(
    spec: Suite, output: Path, *, parquet: bool, workers: int, executor: str, address: str | None
) -> None:
    """A whole suite into ``output`` (already checked free), with its audit in the manifest, so
    the summary line can say what answering 'No answer' everywhere would score."""
    from holobench.scoring.audit import audit_file, write_into_manifest

    if executor == "local" and workers <= 0:
        workers = min(os.cpu_count() or 1, 8) if SuiteRun(spec).count() >= 500 else 1
    runner = open_executor(executor, workers=workers, address=address)
    try:
        with progress_bar() as bar:
            task = bar.add_task(f"suite {spec.name}", total=None)
            manifest = generate_suite(
                spec,
                output,
                parquet=parquet,
                executor=runner,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        runner.close()
    audit = audit_file(output)
    write_into_manifest(audit, output)
    share = manifest["sampling"].get("unanswerable_share")
    out.print(
        f"wrote {manifest['instances']:,} instances to {output / 'instances.jsonl'} "
        f"({len(manifest['skipped'])} skipped; {manifest['sampling']['strategy']} sampling"
        + (f", {share:.1%} unanswerable" if share is not None else "")
        + f"; 'No answer' scores {audit.overall.no_answer:.3f}; manifest {output / 'manifest.json'})"
    )


# --------------------------------------------------------------------------- one query, ad hoc


@dataclass(frozen=True)
class AdHoc:
    """One query given on the command line and how to build its one instance (the options that
    mean something without --suite), so the steps below take one argument, not seventeen."""

    source: str
    templates: Path | None
    db: str
    sql: str
    question: str
    query_id: str
    categories: tuple[str, ...]
    length: int
    amount: int | None
    density: float | None
    placement: str
    seed: int
    tokenizer: str
    fillers: str
    sampling: str
    positives: float
    unanswerable: bool
    perturbation: Perturbation | None


def _generate_one(one: AdHoc, output: Path) -> None:
    """Build the instance and write it as a one-line JSONL file, checking each input as it is
    first needed: the database, the SQL, the categories, the tokenizer, then the sampling."""
    src = perturbed(open_source(one.source, one.templates), one.perturbation, (one.sql,))
    database = src.open(one.db)
    query = _ad_hoc_query(one)
    lazy = [LazyFiller(f, functools.partial(src.open, f)) for f in _filler_ids(one.fillers, one.db, src)]
    builder = InstanceBuilder(
        database, get_tokenizer(one.tokenizer), fillers=lazy, source=one.source, perturbation=one.perturbation
    )
    if one.sampling not in ("answerable", "uniform"):
        raise HoloBenchError(f"--sampling {one.sampling!r}: use answerable or uniform")
    if one.unanswerable and one.sampling != "answerable":
        raise HoloBenchError("--unanswerable needs --sampling answerable (uniform sampling has no answer rows)")
    instance = builder.build(
        query,
        one.length,
        placement=one.placement,
        seed=one.seed,
        amount=one.amount,
        density=one.density,
        sampling=one.sampling,
        positives=one.positives,
        answerable=not one.unanswerable,
    )
    atomic_write_text(output, instance_json(instance) + "\n")
    _print_instance(output, instance)


def _ad_hoc_query(one: AdHoc) -> Query:
    """The query, its SQL parsed first; --category names match case-insensitively, and without
    any the categorisation rules choose, so an ad-hoc query is labelled like a bundled one."""
    tree = parse(one.sql)
    names = {c.value.lower(): c for c in Category}
    unknown = [c for c in one.categories if c.lower() not in names]
    if unknown:
        raise HoloBenchError(f"--category {unknown[0]!r}: use one of {', '.join(c.value for c in Category)}")
    cats = (
        sorted({names[c.lower()] for c in one.categories}, key=list(Category).index)
        if one.categories
        else sorted(suggest_categories(tree), key=list(Category).index)
    )
    return Query(
        id=one.query_id,
        db_id=one.db,
        question=one.question,
        sql=one.sql,
        categories=tuple(cats),
        difficulty=Difficulty.MEDIUM,
    )


_FILLER_KEYWORDS: dict[str, Literal["auto", "none"]] = {"auto": "auto", "none": "none"}


def _filler_ids(fillers: str, db_id: str, src: Source) -> list[str]:
    """--fillers: 'auto' and 'none' go through the suite's own rule (suite.filler_ids), so both
    paths pick the same databases.  A comma list is taken as given: unlike a suite's list, it
    keeps the query's own database if listed, as the ad-hoc path always has (instance ids and
    filler rows depend on it)."""
    keyword = _FILLER_KEYWORDS.get(fillers)
    if keyword is not None:
        return filler_ids(keyword, db_id, src)
    return [f.strip() for f in fillers.split(",") if f.strip()]


def _print_instance(output: Path, instance: Instance) -> None:
    """The one-line summary: tokens, where the rows came from, the gold size, answerability."""
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
    every = [audit.overall, *audit.by_database, *audit.by_category]
    columns = [
        name
        for name in AuditRow.model_fields
        if name != "group" and (not name.startswith("changed_") or any(getattr(r, name) is not None for r in every))
    ]
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
