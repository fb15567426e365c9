"""Looking at the inputs before generating anything: databases (``db``), their sentences
(``verbalize``), the bundled questions (``queries``), and the versions that decide results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from holobench._io import atomic_write_text, check_output_file
from holobench._urls import check_base_url
from holobench.backends.registry import key_env
from holobench.cli.common import KeyEnvOpt, SourceOpt, TemplatesOpt, out
from holobench.database import Database
from holobench.errors import HoloBenchError
from holobench.perturb import materialise, perturbed
from holobench.queries import QueryReport, load_query_file, validate_queries
from holobench.records import Perturbation
from holobench.sources import open_source
from holobench.sources.base import Source
from holobench.sources.bundled import BundledSource
from holobench.verbalize import check_database

db_app = typer.Typer(help="Inspect databases from any source.", no_args_is_help=True)
verbalize_app = typer.Typer(help="Row-to-sentence verbalization and its faithfulness check.", no_args_is_help=True)
queries_app = typer.Typer(help="Query files: list and validate.", no_args_is_help=True)


# --------------------------------------------------------------------------- db


@db_app.command("list")
def db_list(source: SourceOpt = "bundled") -> None:
    """List the databases of a source with their table and row counts."""
    src = open_source(source)
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
    db = open_source(source, templates).open(db_id)
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


@db_app.command("perturb")
def db_perturb(
    db_id: Annotated[str, typer.Argument(help="database id")],
    output: Annotated[Path, typer.Option("--out", "-o", help="the SQLite file to write")],
    seed: Annotated[int, typer.Option(help="the perturbation's seed (an instance's perturbation.seed)")],
    kinds: Annotated[str, typer.Option(help="comma list of rewrites: rows, names, dates")] = "rows,names,dates",
    sql: Annotated[
        list[str] | None, typer.Option(help="an ad-hoc query's SQL, whose literals are kept too (repeatable)")
    ] = None,
    source: SourceOpt = "bundled",
    templates: TemplatesOpt = None,
) -> None:
    """Write the counterfactual database that perturbed instances were built from, as SQLite, so
    their gold can be re-verified on SQLite itself (rows keep their places: an instance's ``lines``
    name rows of this file)."""
    check_output_file(output)
    try:
        perturbation = Perturbation.model_validate(
            {"seed": seed, "kinds": [k.strip() for k in kinds.split(",") if k.strip()]}
        )
    except ValidationError as exc:
        raise HoloBenchError(f"--kinds {kinds!r}: give a comma list of rows, names, dates") from exc
    db = perturbed(open_source(source, templates), perturbation, tuple(sql or ())).open(db_id)
    materialise(db, output)
    rows = sum(db.row_count(t) for t in db.tables)
    out.print(f"wrote {output}: {db.db_id}, {len(db.tables)} tables, {rows:,} rows ({db.origin})", markup=False)


# --------------------------------------------------------------------------- verbalize


def _check_one(db: Database, limit: int) -> bool:
    """One database's faithfulness line and its first ``limit`` misses; True if none."""
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
    src = open_source(source, templates)
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
    db = open_source(source, templates).open(db_id)
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
    db = open_source(source).open(db_id)
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
    for q in open_source(source).queries(db_id):
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
    src = open_source(source)
    if not files:
        if not isinstance(src, BundledSource):
            raise HoloBenchError("name the query files to validate against a non-bundled source")
        files = [src.query_file(d) for d in src.list_databases() if src.query_file(d).is_file()]
    failures = 0
    totals: dict[str, int] = {}
    for path in files:
        failures += _validate_file(src, path, verbose, totals)
    out.print("categories: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    raise typer.Exit(1 if failures else 0)


def _validate_file(src: Source, path: Path, verbose: bool, totals: dict[str, int]) -> int:
    """One query file's table (every query with ``verbose``, else the failing ones) and counts
    line; adds its categories to ``totals``; returns how many of its queries fail."""
    qfile = load_query_file(path)
    db = src.open(qfile.db_id)
    reports = validate_queries(db, qfile.queries)
    table = Table("id", "difficulty", "categories", "suggested", "tables", "rows", "status", title=str(path))
    for r in reports:
        for c in r.query.categories:
            totals[c.value] = totals.get(c.value, 0) + 1
        if verbose or not r.ok:
            table.add_row(*map(escape, _report_row(r)))
    if table.row_count:
        out.print(table)
    bad = sum(not r.ok for r in reports)
    out.print(f"{path}: {len(reports)} queries, {len(reports) - bad} ok, {bad} failing")
    return bad


def _report_row(r: QueryReport) -> tuple[str, ...]:
    """A validated query as table cells."""
    status = "ok" if r.ok else (r.error or "categories differ from the suggestion")
    return (
        r.query.id,
        r.query.difficulty.value,
        ", ".join(c.value for c in r.query.categories),
        ", ".join(c.value for c in r.suggested),
        ", ".join(r.tables),
        "" if r.rows is None else str(r.rows),
        status,
    )


# --------------------------------------------------------------------------- versions


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
