"""The ``holobench`` command: a thin typer layer over the public API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from holobench.errors import HoloBenchError
from holobench.queries import load_query_file, validate_queries
from holobench.sources import open_source
from holobench.sources.base import Database, Source
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

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        help="bundled | spider:<dir> | hub:<dir or owner/name> | sqlite:<file> | duckdb:<file> | files:<dir>",
    ),
]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="folder of <db_id>/<table>.j2 templates (Spider sources)")
]


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
    out.print(f"[bold]{db.db_id}[/bold] from {db.origin}: {len(db.tables)} tables")
    for schema in db.schemas:
        cols = ", ".join(f"{c.name} {c.type}" for c in schema.columns)
        out.print(
            f"\n[bold]{schema.name}[/bold] ({db.row_count(schema.name):,} rows; {db.verbalizer(schema.name).name})"
        )
        out.print(f"  columns: {cols}")
        if schema.primary_key:
            out.print(f"  primary key: {', '.join(schema.primary_key)}")
        for fk in schema.foreign_keys:
            out.print(f"  foreign key: {fk.column} -> {fk.ref_table}.{fk.ref_column}")
        if db.row_count(schema.name):
            out.print(f"  e.g. {db.verbalize(schema.name, 0)}")
    for note in db.notes:
        out.print(f"[yellow]note:[/yellow] {note}")


# --------------------------------------------------------------------------- verbalize


def _check_one(db: Database, limit: int) -> bool:
    report = check_database(db)
    status = "[green]ok[/green]" if report.ok else f"[red]{len(report.missing)} missing values[/red]"
    out.print(f"{db.origin} {db.db_id}: {report.total_rows:,} rows in {len(report.rows)} tables checked: {status}")
    for miss in report.missing[:limit]:
        out.print(f"  {miss}")
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
        out.print(f"{i}\t{sentence}")


@verbalize_app.command("llm")
def verbalize_llm(
    db_id: Annotated[str, typer.Argument(help="database id")],
    model: Annotated[str, typer.Option(help="chat model name")],
    output: Annotated[Path, typer.Option("--out", "-o", help="JSONL file of {table, row, sentence}")],
    source: SourceOpt = "bundled",
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    ] = None,
    api_key_env: Annotated[str, typer.Option(help="environment variable holding the API key")] = "OPENAI_API_KEY",
    table: Annotated[list[str] | None, typer.Option(help="only these tables (repeatable)")] = None,
    cache_dir: Annotated[Path, typer.Option(help="response cache folder")] = Path(".cache/holobench/verbalize"),
    strict: Annotated[bool, typer.Option(help="fail on an unfaithful sentence instead of falling back")] = True,
) -> None:
    """Verbalize rows with an LLM (cached, validated) and write the sentences to a JSONL file."""
    from holobench.verbalize.llm import LLMVerbalizer

    db = _source(source).open(db_id)
    tables = [db.table_name(t) for t in table] if table else db.tables
    lines: list[str] = []
    fallbacks = 0
    for name in tables:
        verbalizer = LLMVerbalizer(
            db.schema(name),
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            cache_dir=cache_dir,
            strict=strict,
        )
        db.set_verbalizer(name, verbalizer)
        for i, sentence in enumerate(db.sentences(name)):
            lines.append(json.dumps({"table": name, "row": i, "sentence": sentence}, ensure_ascii=False))
        fallbacks += verbalizer.fallbacks
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(output)
    out.print(f"wrote {len(lines):,} sentences to {output} ({fallbacks} generic fallbacks)")


# --------------------------------------------------------------------------- queries


@queries_app.command("list")
def queries_list(
    db_id: Annotated[str, typer.Argument(help="database id")],
    source: SourceOpt = "bundled",
) -> None:
    """List the questions a source ships for a database."""
    for q in _source(source).queries(db_id):
        out.print(f"{q.id}\t{q.difficulty.value}\t{'/'.join(c.value for c in q.categories)}\t{q.question}")


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
                    r.query.id,
                    r.query.difficulty.value,
                    ", ".join(c.value for c in r.query.categories),
                    ", ".join(c.value for c in r.suggested),
                    ", ".join(r.tables),
                    "" if r.rows is None else str(r.rows),
                    status,
                )
        if table.row_count:
            out.print(table)
        bad = sum(not r.ok for r in reports)
        out.print(f"{path}: {len(reports)} queries, {len(reports) - bad} ok, {bad} failing")
    out.print("categories: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    raise typer.Exit(1 if failures else 0)


def main() -> None:
    try:
        app()
    except HoloBenchError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
