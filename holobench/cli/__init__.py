"""The ``holobench`` command: a thin typer layer over the public API."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from holobench._io import atomic_write_text, check_output_dir, check_output_file
from holobench._urls import check_base_url
from holobench.backends.registry import key_env, parse_options
from holobench.database import Database
from holobench.errors import HoloBenchError, field_problem
from holobench.queries import load_query_file, validate_queries
from holobench.records import Placement
from holobench.scoring.registry import scorer_help
from holobench.sources import open_source
from holobench.sources.base import Source
from holobench.sources.bundled import BundledSource
from holobench.verbalize import check_database

app = typer.Typer(
    help="HoloBench: holistic-reasoning benchmarks for long-context models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Inspect databases from any source.", no_args_is_help=True)
verbalize_app = typer.Typer(help="Row-to-sentence verbalization and its faithfulness check.", no_args_is_help=True)
queries_app = typer.Typer(help="Query files: list and validate.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(verbalize_app, name="verbalize")
app.add_typer(queries_app, name="queries")
submit_app = typer.Typer(help="Leaderboard submissions: pack and validate.", no_args_is_help=True)
leaderboard_app = typer.Typer(help="The static leaderboard site.", no_args_is_help=True)
suite_app = typer.Typer(help="Generated suites: what they measure.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")
app.add_typer(submit_app, name="submit")
app.add_typer(leaderboard_app, name="leaderboard")

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


def _in_range(option: str, value: float | None, low: float, high: float = math.inf, *, above: bool = False) -> None:
    """A numeric option checked before any work: finite, and within [low, high] (or (low, high])."""
    if value is None:
        return
    if not math.isfinite(value) or value < low or (above and value == low) or value > high:
        bound = f"{'above' if above else 'at least'} {low:g}" + (f" and at most {high:g}" if high < math.inf else "")
        raise HoloBenchError(f"{option} {value}: give a number {bound}")


class _LazyProgress(Progress):
    """A progress bar that appears with its first update: an error found before any work (a bad
    instances file, a locked folder) is then the only line on stderr."""

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live.is_started:
            self.stop()

    def update(self, task_id: TaskID, **fields: Any) -> None:
        if not self.live.is_started:
            self.start()
        super().update(task_id, **fields)


def _source(spec: str, templates: Path | None = None) -> Source:
    return open_source(spec, templates=templates)


# --------------------------------------------------------------------------- db


@db_app.command("list")
def db_list(source: SourceOpt = "bundled") -> None:
    """List the databases of a source with their table and row counts."""
    src = _source(source)
    table = Table("db_id", "tables", "rows", "queries", title=f"databases in {src.describe()}")
    for db_id in src.list_databases():
        db = src.open(db_id)
        rows = sum(db.row_count(t) for t in db.tables)
        table.add_row(db_id, str(len(db.tables)), f"{rows:,}", str(len(src.queries(db_id))))
        db.close()
    out.print(table)


@db_app.command("show")
def db_show(
    db_id: Annotated[str, typer.Argument(help="database id")],
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
) -> None:
    """Show tables, columns, keys, row counts, verbalizers and one sample sentence per table."""
    db = _source(source, templates).open(db_id)
    out.print(f"{db.db_id} from {db.origin}: {len(db.tables)} tables", markup=False)
    for schema in db.schemas:
        cols = ", ".join(f"{c.name} {c.type}" for c in schema.columns)
        out.print(
            f"\n{schema.name} ({db.row_count(schema.name):,} rows; {db.verbalizer(schema.name).name})", markup=False
        )
        out.print(f"  columns: {cols}", markup=False)
        if schema.primary_key:
            out.print(f"  primary key: {', '.join(schema.primary_key)}")
        for fk in schema.foreign_keys:
            out.print(f"  foreign key: {fk.column} -> {fk.ref_table}.{fk.ref_column}")
        if db.row_count(schema.name):
            out.print(f"  e.g. {db.verbalize(schema.name, 0)}", markup=False)
    for note in db.notes:
        out.print(f"note: {note}", markup=False)


# --------------------------------------------------------------------------- verbalize


def _check_one(db: Database, limit: int) -> bool:
    report = check_database(db)
    status = "ok" if report.ok else f"{len(report.missing)} missing values"
    out.print(
        f"{db.origin} {db.db_id}: {report.total_rows:,} rows in {len(report.rows)} tables checked: {status}",
        markup=False,
    )
    for miss in report.missing[:limit]:
        out.print(f"  {miss}", markup=False)
    if len(report.missing) > limit:
        out.print(f"  ... and {len(report.missing) - limit} more")
    return report.ok


@verbalize_app.command("check")
def verbalize_check(
    db_id: Annotated[str | None, typer.Argument(help="database id (omit with --all)")] = None,
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
    all_dbs: Annotated[bool, typer.Option("--all", help="check every database of the source")] = False,
    limit: Annotated[int, typer.Option(help="failures to print per database")] = 20,
) -> None:
    """Check that every non-null cell value of every row is recoverable from its sentence."""
    src = _source(source, templates)
    if not all_dbs and db_id is None:
        raise HoloBenchError("give a database id or --all")
    ids = src.list_databases() if all_dbs else [db_id or ""]
    ok = all([_check_one(src.open(i), limit) for i in ids])
    raise typer.Exit(0 if ok else 1)


@verbalize_app.command("show")
def verbalize_show(
    db_id: Annotated[str, typer.Argument(help="database id")],
    table: Annotated[str, typer.Argument(help="table name")],
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
    rows: Annotated[int, typer.Option("--rows", "-n", help="how many rows")] = 5,
    start: Annotated[int, typer.Option(help="first row index")] = 0,
) -> None:
    """Print the sentences of some rows of a table."""
    db = _source(source, templates).open(db_id)
    for i, sentence in enumerate(db.sentences(table)[start : start + rows], start=start):
        out.print(f"{i}\t{sentence}", markup=False)


@verbalize_app.command("llm")
def verbalize_llm(
    db_id: Annotated[str, typer.Argument(help="database id")],
    model: Annotated[str, typer.Option(help="chat model name")],
    output: Annotated[Path, typer.Option("--out", "-o", help="JSONL file of {table, row, sentence}")],
    source: SourceOpt = "bundled",
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    ] = None,
    api_key_env: KeyEnvOpt = None,
    table: Annotated[list[str] | None, typer.Option(help="only these tables (repeatable)")] = None,
    cache_dir: Annotated[Path, typer.Option(help="response cache folder")] = Path(".cache/holobench/verbalize"),
    strict: Annotated[bool, typer.Option(help="fail on an unfaithful sentence instead of falling back")] = True,
) -> None:
    """Verbalize rows with an LLM (cached, validated) and write the sentences to a JSONL file."""
    from holobench.verbalize.llm import LLMVerbalizer

    check_output_file(output)
    if base_url is not None:
        check_base_url(base_url)
    db = _source(source).open(db_id)
    tables = [db.table_name(t) for t in table] if table else db.tables
    lines: list[str] = []
    fallbacks = 0
    for name in tables:
        verbalizer = LLMVerbalizer(
            db.schema(name),
            model=model,
            base_url=base_url,
            api_key_env=key_env(api_key_env),
            cache_dir=cache_dir,
            strict=strict,
        )
        db.set_verbalizer(name, verbalizer)
        for i, sentence in enumerate(db.sentences(name)):
            lines.append(json.dumps({"table": name, "row": i, "sentence": sentence}, ensure_ascii=False))
        fallbacks += verbalizer.fallbacks
    atomic_write_text(output, "\n".join(lines) + "\n")
    out.print(f"wrote {len(lines):,} sentences to {output} ({fallbacks} generic fallbacks)")


# --------------------------------------------------------------------------- queries


@queries_app.command("list")
def queries_list(
    db_id: Annotated[str, typer.Argument(help="database id")],
    source: SourceOpt = "bundled",
) -> None:
    """List the questions a source ships for a database."""
    for q in _source(source).queries(db_id):
        out.print(
            f"{q.id}\t{q.difficulty.value}\t{'/'.join(c.value for c in q.categories)}\t{q.question}", markup=False
        )


@queries_app.command("validate")
def queries_validate(
    files: Annotated[list[Path] | None, typer.Argument(help="query files (default: every bundled file)")] = None,
    source: SourceOpt = "bundled",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="one line per query")] = False,
) -> None:
    """Parse, run and categorise every query; exit 1 if any query fails or is mislabelled."""
    src = _source(source)
    if not files:
        if not isinstance(src, BundledSource):
            raise HoloBenchError("name the query files to validate against a non-bundled source")
        files = [src.query_file(d) for d in src.list_databases() if src.query_file(d).is_file()]
    failures = 0
    totals: dict[str, int] = {}
    for path in files:
        qfile = load_query_file(path)
        db = src.open(qfile.db_id)
        reports = validate_queries(db, qfile.queries)
        table = Table("id", "difficulty", "categories", "suggested", "tables", "rows", "status", title=str(path))
        for r in reports:
            for c in r.query.categories:
                totals[c.value] = totals.get(c.value, 0) + 1
            status = "ok" if r.ok else (r.error or "categories differ from the suggestion")
            failures += not r.ok
            if verbose or not r.ok:
                table.add_row(
                    *map(
                        escape,
                        (
                            r.query.id,
                            r.query.difficulty.value,
                            ", ".join(c.value for c in r.query.categories),
                            ", ".join(c.value for c in r.suggested),
                            ", ".join(r.tables),
                            "" if r.rows is None else str(r.rows),
                            status,
                        ),
                    )
                )
        if table.row_count:
            out.print(table)
        bad = sum(not r.ok for r in reports)
        out.print(f"{path}: {len(reports)} queries, {len(reports) - bad} ok, {bad} failing")
    out.print("categories: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    raise typer.Exit(1 if failures else 0)


# --------------------------------------------------------------------------- generate


@app.command("generate")
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
    _in_range("--length", length, 1)
    _in_range("--amount", amount, 1)
    _in_range("--density", density, 0, 1, above=True)
    _in_range("--positives", positives, 0, 1, above=True)
    _in_range("--workers", workers, 0)
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
        with _LazyProgress(*columns, console=err, transient=False) as bar:
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
    src = _source(source, templates)
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


# --------------------------------------------------------------------------- run


@app.command("run")
def run(
    instances: Annotated[Path, typer.Option(help="instances.jsonl from holobench generate")],
    backend: Annotated[str, typer.Option(help="openai | vllm | llamacpp | rag | no-answer")],
    output: Annotated[Path, typer.Option("--out", "-o", help="run folder, e.g. results/<run>")],
    model: Annotated[str | None, typer.Option(help="model name, or a .gguf path for llamacpp")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint")] = None,
    api_key_env: KeyEnvOpt = None,
    prompt: Annotated[
        str,
        typer.Option(help="cot | direct | structured | fewshot (base models) | auto (fewshot for a base model)"),
    ] = "cot",
    fewshot_seed: Annotated[int, typer.Option(help="fewshot: which generated demonstrations to show")] = 0,
    option: Annotated[list[str] | None, typer.Option(help="backend option key=value (repeatable)")] = None,
    context_window: Annotated[int | None, typer.Option(help="model context window in tokens")] = None,
    temperature: Annotated[float, typer.Option()] = 0.0,
    top_p: Annotated[float, typer.Option()] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="new tokens per answer")] = 1024,
    seed: Annotated[int | None, typer.Option(help="sampling seed sent to the backend")] = 0,
    concurrency: Annotated[int, typer.Option(help="requests in flight")] = 8,
    max_retries: Annotated[int, typer.Option(help="retries per request")] = 4,
    max_retry_after: Annotated[
        float, typer.Option(help="longest Retry-After (s) to wait for; a longer one fails the request")
    ] = 300.0,
    timeout: Annotated[float, typer.Option(help="seconds per attempt")] = 600.0,
    shard: Annotated[str | None, typer.Option(help="i/N: run one of N shards")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="response cache folder")] = Path(".cache/holobench/responses"),
    no_cache: Annotated[bool, typer.Option("--no-cache", help="neither read nor write the cache")] = False,
    prices: Annotated[Path | None, typer.Option(help="YAML price table (USD per million tokens)")] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="count prompt tokens with this (default: the instances')")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count tokens and estimate cost; send nothing")] = False,
) -> None:
    """Run a backend over instances into a resumable predictions journal."""
    _in_range("--temperature", temperature, 0)
    _in_range("--top-p", top_p, 0, 1, above=True)
    _in_range("--max-tokens", max_tokens, 1)
    _in_range("--concurrency", concurrency, 1)
    _in_range("--max-retries", max_retries, 0)
    _in_range("--max-retry-after", max_retry_after, 0, above=True)
    _in_range("--timeout", timeout, 0, above=True)
    _in_range("--context-window", context_window, 1)
    if base_url is not None:
        check_base_url(base_url)
    if not dry_run:
        check_output_dir(output, "run")
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from holobench.backends import BackendOptions, SamplingParams
    from holobench.runner import RunConfig, Runner, parse_shard
    from holobench.runner import dry_run as estimate

    config = RunConfig(
        backend=backend,
        options=BackendOptions(
            model=model,
            base_url=base_url,
            api_key_env=key_env(api_key_env),
            context_window=context_window,
            options=parse_options(option),
        ),
        prompt=prompt,
        fewshot_seed=fewshot_seed,
        sampling=SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed),
        concurrency=concurrency,
        max_retries=max_retries,
        max_retry_after=max_retry_after,
        timeout_s=timeout,
        shard=parse_shard(shard) if shard else None,
        cache_dir=None if no_cache else cache_dir,
        prices=prices,
        tokenizer=tokenizer,
    )
    if dry_run:
        report = estimate(instances, config)
        for key, value in report.items():
            out.print(f"{key}: {value}", markup=False)
        return
    runner = Runner(instances, output, config)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} | {task.fields[tokens]} tok | ${task.fields[cost]}"),
        TimeRemainingColumn(),
    )
    import time as _time

    started = _time.perf_counter()
    with _LazyProgress(*columns, console=err) as bar:
        task = bar.add_task(f"{backend} {runner.backend.model}", total=None, rate="", tokens=0, cost="0")

        def progress(done: int, total: int, client: object) -> None:
            from holobench.backends.client import Client

            assert isinstance(client, Client)
            t = client.totals
            rate = t.requests / max(_time.perf_counter() - started, 1e-9)
            bar.update(
                task,
                completed=done,
                total=total,
                rate=f"{rate:.1f}/s",
                tokens=f"{t.prompt_tokens + t.completion_tokens:,}",
                cost=f"{t.cost_usd:.4f}" if client.price else "?",
            )

        import asyncio

        summary = asyncio.run(runner.run(progress))
    counts = summary["this_run"]
    out.print(
        f"{output / 'predictions.jsonl'}: {counts['ok']} answered, {counts['skipped']} skipped, "
        f"{counts['error']} failed this run ({summary['total']} instances in the shard); "
        f"tokens {summary['client']['prompt_tokens']:,} in / {summary['client']['completion_tokens']:,} out",
        markup=False,
    )
    if counts["error"]:
        from holobench.journal import Journal

        failed = [p for p in Journal(output / "predictions.jsonl").load(repair=False).values() if p.status == "error"]
        if failed:
            err.print(f"first failure ({failed[0].id}): {failed[0].error}", markup=False)
        raise typer.Exit(1)


@app.command("merge")
def merge(
    runs: Annotated[list[Path], typer.Argument(help="run folders (shards of one run)")],
    output: Annotated[Path, typer.Option("--out", "-o", help="merged run folder")],
) -> None:
    """Join the shard folders of one run into one journal."""
    from holobench.runner import merge_runs

    check_output_dir(output, "run")
    report = merge_runs(runs, output)
    out.print(f"merged {report['runs']} runs: {report['predictions']} predictions in {output}", markup=False)


# --------------------------------------------------------------------------- scoring and reports


def _print_summary(summary: dict[str, object], where: Path) -> None:
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


@app.command("score")
def score(
    instances: Annotated[Path, typer.Option(help="the instances file the run answered")],
    predictions: Annotated[Path, typer.Option(help="a run folder or its predictions.jsonl")],
    scorer: Annotated[str, typer.Option(help=scorer_help())] = "match",
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="score folder (default: <run>/scores/<scorer>)")
    ] = None,
    rel_tol: Annotated[float, typer.Option(help="match: relative tolerance for non-integer numbers")] = 0.01,
    judge_backend: Annotated[str, typer.Option(help="judge: backend name")] = "openai",
    judge_model: Annotated[str | None, typer.Option(help="judge: model name")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="judge: OpenAI-compatible endpoint")] = None,
    api_key_env: KeyEnvOpt = None,
    judge_option: Annotated[list[str] | None, typer.Option(help="judge: backend option key=value")] = None,
    concurrency: Annotated[int, typer.Option(help="judge: requests in flight")] = 8,
    max_retries: Annotated[int, typer.Option(help="judge: retries per request")] = 4,
    malformed_retries: Annotated[int, typer.Option(help="judge: re-asks when labels do not fit the schema")] = 2,
    cache_dir: Annotated[Path | None, typer.Option(help="judge: response cache folder")] = Path(
        ".cache/holobench/responses"
    ),
) -> None:
    """Score a run's predictions; rescoring never calls the answering model again."""
    _in_range("--rel-tol", rel_tol, 0, 1)
    _in_range("--concurrency", concurrency, 1)
    _in_range("--max-retries", max_retries, 0)
    _in_range("--malformed-retries", malformed_retries, 0)
    from holobench.scoring.registry import create_scorer
    from holobench.scoring.run import ScorerOptions, default_out, score_run

    where = output or default_out(predictions, scorer)
    check_output_dir(where, "scores")
    if judge_base_url is not None:
        check_base_url(judge_base_url, "--judge-base-url")
    judge = {
        "backend": judge_backend,
        "model": judge_model,
        "base_url": judge_base_url,
        "api_key_env": api_key_env,
        "options": judge_option or [],
        "concurrency": concurrency,
        "max_retries": max_retries,
        "malformed_retries": malformed_retries,
        "cache_dir": cache_dir,
    }
    chosen = create_scorer(scorer, ScorerOptions(rel_tol=rel_tol, judge=judge))
    import asyncio

    summary = asyncio.run(score_run(chosen, instances, predictions, where))
    _print_summary(summary, where)
    if summary.get("missing"):
        err.print(f"note: {summary['missing']} instances have no prediction in {predictions}", markup=False)


@app.command("agreement")
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


@app.command("report")
def report_cmd(
    runs: Annotated[list[Path], typer.Argument(help="run folders (scored) or score folders")],
    output: Annotated[Path, typer.Option("--out", "-o", help="report folder")],
    scorer: Annotated[str, typer.Option(help="which scores to read from run folders")] = "match",
    resamples: Annotated[int, typer.Option(help="bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
) -> None:
    """Markdown and CSV tables with 95% bootstrap intervals, and plots (PNG and SVG)."""
    _in_range("--resamples", resamples, 1)
    check_output_dir(output, "report")
    from holobench.report import write_report

    summary = write_report(runs, output, scorer=scorer, n_boot=resamples, seed=seed)
    table = Table("run", "instances", "scored", "skipped", "failed", "truncated", "score [95% CI]")
    for r in summary["runs"]:
        ci = "n/a" if r["mean"] is None else f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        counts = (str(r[k]) for k in ("instances", "scored", "skipped", "failed", "truncated"))
        table.add_row(escape(r["label"]), *counts, ci)
    out.print(table)
    _print_pivot(output / "tables" / "category.csv", "category", "score by category")
    _print_pivot(output / "tables" / "answerability.csv", "answerable", "answerable / unanswerable instances")
    out.print(f"report: {output / 'report.md'}", markup=False)


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
    from holobench.leaderboard import build

    check_output_dir(output, "site")
    summary = build(submissions, output, instances=instances, verify_gold=verify_gold)
    out.print(f"gold answers: {summary['gold']}", markup=False)
    table = Table("#", "entry", "score", "95% CI")
    for e in summary["entries"]:
        table.add_row(str(e["rank"]), escape(e["label"]), "n/a" if e["score"] is None else f"{e['score']:.3f}", e["ci"])
    out.print(table)
    out.print(f"leaderboard: {output / 'index.html'}", markup=False)


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


@app.command("versions")
def versions_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, as manifests record it")] = False,
    tokenizer: Annotated[str, typer.Option(help="also hash this tokenizer's file")] = "o200k_base",
) -> None:
    """The versions that decide results (as every manifest records them) and the reference SQLite."""
    from holobench.environment import reference_versions
    from holobench.tokenizers import tokenizer_fingerprint

    found = {**reference_versions(), "tokenizer": tokenizer_fingerprint(tokenizer)}
    if as_json:
        out.print(json.dumps(found, indent=2, sort_keys=True), markup=False)
        return
    table = Table("component", "version")
    table.add_row("holobench", found["holobench"])
    table.add_row("python", found["python"])
    table.add_row("sqlite (reference)", found["sqlite_reference"])
    for dist, version in found["packages"].items():
        table.add_row(dist, version or "not installed")
    table.add_row(f"tokenizer {tokenizer}", f"{found['tokenizer']['file']} sha256 {found['tokenizer']['sha256'][:16]}")
    out.print(table)


def main() -> None:
    from pydantic import ValidationError

    # typer carries its own copy of click (pinned in requirements/); its usage errors are these
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # a bare group: its help, as click shows it
        exc.show()
        sys.exit(2)
    except ClickException as exc:  # a missing or malformed option: the same one-line contract
        ctx = exc.ctx if isinstance(exc, UsageError) else None
        command = ctx.command_path if ctx is not None else "holobench"
        err.print(f"error: {command}: {exc.format_message()} (see {command} --help)", markup=False)
        sys.exit(2)
    except typer.Abort:  # Ctrl-C at a prompt
        err.print("error: holobench: aborted", markup=False)
        sys.exit(130)
    except HoloBenchError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except OSError as exc:  # a full or read-only disk midway: finished results are kept, no traceback
        where = exc.filename or "holobench"
        err.print(
            f"error: {where}: {exc.strerror or exc}; free space or choose a writable path, then run again",
            markup=False,
        )
        sys.exit(2)
    except ValidationError as exc:  # a setting no option check caught: still one line, exit 2
        problem = field_problem(exc.errors()[0], exc.title)
        err.print(f"error: {exc.title}: {problem} (check the matching option)", markup=False)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
