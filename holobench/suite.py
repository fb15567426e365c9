"""Suites: a YAML grid (databases x queries x lengths x settings x placements x seeds) streamed
to JSONL (and optionally Parquet) with a manifest.

Output is written to temporary files and renamed into place only when the whole suite is done,
so an interrupted run never leaves a half-written file behind.  Instances that cannot be built
(a target longer than all rows together) are listed in the manifest with the reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from holobench._io import atomic_write_text, naming
from holobench._version import __version__
from holobench.context import GENERATOR_VERSION, GenerationError, InstanceBuilder
from holobench.database import Database
from holobench.environment import versions
from holobench.errors import HoloBenchError
from holobench.executors import Executor, LocalExecutor
from holobench.lines import TableLines, seeded_rng
from holobench.perturb import perturbed
from holobench.provenance import Provenance, ProvenanceSummary
from holobench.records import Instance, Placement, Query, SuiteManifest
from holobench.sampling import Sampling
from holobench.sources import open_source
from holobench.sources.base import Source
from holobench.suite_file import BUNDLED_SUITES as BUNDLED_SUITES
from holobench.suite_file import QuerySelection as QuerySelection
from holobench.suite_file import Setting as Setting
from holobench.suite_file import Suite as Suite
from holobench.suite_file import load_suite as load_suite
from holobench.suite_file import parse_length as parse_length
from holobench.tokenizers import get_tokenizer


def filler_ids(fillers: tuple[str, ...] | Literal["auto", "none"], db_id: str, source: Source) -> list[str]:
    """The databases whose rows fill ``db_id``'s contexts once its own rows run out: none, every
    other database of the source (``auto``), or those listed, never ``db_id`` itself."""
    if fillers == "none":
        return []
    if fillers == "auto":
        return [d for d in source.list_databases() if d != db_id]
    return [d for d in fillers if d != db_id]


# One built cell: (JSON line, None, answerable) or (None, skip record, None).
Cell = tuple[str | None, dict[str, Any] | None, bool | None]


class Job(BaseModel):
    """One cell of the grid."""

    db_id: str
    query: Query
    length: int
    setting: Setting
    placement: Placement
    seed: int
    answerable: bool = True


class SuiteRun:
    """Expands a suite into jobs and builds them with one builder per database."""

    def __init__(self, suite: Suite, source: Source | None = None) -> None:
        self.suite = suite
        self.source = perturbed(source or open_source(suite.source), suite.perturb)
        self.tokenizer = get_tokenizer(suite.tokenizer)
        self._dbs: dict[str, Database] = {}
        self._builders: dict[str, InstanceBuilder] = {}
        self._lines: dict[str, TableLines] = {}
        self._queries: dict[str, list[Query]] = {}
        self._provenance: dict[tuple[str, str, str], Provenance] = {}

    def database_ids(self) -> list[str]:
        have = self.source.list_databases()
        if self.suite.databases == "all":
            return have
        missing = [d for d in self.suite.databases if d not in have]
        if missing:
            raise HoloBenchError(
                f"suite {self.suite.name!r}: databases {', '.join(missing)} not in {self.source.describe()}"
            )
        return list(self.suite.databases)

    def queries(self, db_id: str) -> list[Query]:
        if db_id not in self._queries:  # a source may parse its query file on every call
            queries = self.source.queries(db_id)
            self._queries[db_id] = queries if self.suite.queries == "all" else self.suite.queries.select(queries)
        return self._queries[db_id]

    def chunks(self) -> list[tuple[str, int]]:
        """(database, query index) pairs: the unit of work handed to a worker."""
        chunks = [(db_id, i) for db_id in self.database_ids() for i in range(len(self.queries(db_id)))]
        selection = self.suite.queries
        if selection != "all" and selection.ids:
            found = {self.queries(db_id)[i].id for db_id, i in chunks}
            unknown = [q for q in selection.ids if q not in found]
            if unknown:
                raise HoloBenchError(
                    f"suite {self.suite.name!r}: query id(s) {', '.join(unknown)} not among the selected databases' "
                    f"queries in {self.source.describe()} (check the spelling; holobench queries list DB)"
                )
        return chunks

    def chunk_jobs(self, db_id: str, index: int) -> Iterator[Job]:
        s = self.suite
        query = self.queries(db_id)[index]
        for length in s.lengths:
            for setting in s.settings:
                for placement in s.placements:
                    for seed in s.seeds:
                        yield Job(
                            db_id=db_id, query=query, length=length, setting=setting, placement=placement, seed=seed
                        )

    def jobs(self) -> Iterator[Job]:
        for db_id, index in self.chunks():
            yield from self.chunk_jobs(db_id, index)

    def build_chunk(self, db_id: str, index: int, withheld: int = 0) -> list[Cell]:
        """Every cell of one query (see ``Cell``), in grid order.

        ``withheld`` cells are built unanswerable, tried in a seeded order: a cell that cannot be
        (its near misses still answer, at that budget) is built answerable and the next is tried.
        """
        jobs = list(self.chunk_jobs(db_id, index))
        ready: dict[int, Instance] = {}
        if withheld:
            order = list(range(len(jobs)))
            seeded_rng(db_id, jobs[0].query.id, "unanswerable").shuffle(order)
            for i in order:
                if len(ready) == withheld:
                    break
                try:
                    ready[i] = self.build(jobs[i].model_copy(update={"answerable": False}))
                except GenerationError:
                    continue
        out: list[Cell] = []
        for i, job in enumerate(jobs):
            try:
                instance = ready[i] if i in ready else self.build(job)
                out.append((instance_json(instance) + "\n", None, instance.answerable))
            except GenerationError as exc:
                out.append((None, _skip_record(job, exc), None))
        return out

    def withheld_quotas(self) -> dict[tuple[str, int], int]:
        """How many cells of each query to build unanswerable, so that the suite's share holds.

        Queries whose every relevant row answers them (``COUNT(*) FROM t``) cannot be withheld;
        the others take their cells, split by largest remainder (at most half of a query's).
        """
        s = self.suite
        if s.sampling is not Sampling.ANSWERABLE or not s.unanswerable:
            return {}
        per_query = len(s.lengths) * len(s.settings) * len(s.placements) * len(s.seeds)
        chunks = self.chunks()
        eligible = [c for c in chunks if self._can_withhold(*c)]
        if not eligible:
            return {}
        want = min(round(s.unanswerable * per_query * len(chunks)), len(eligible) * per_query // 2)
        exact = [want * (i + 1) // len(eligible) - want * i // len(eligible) for i in range(len(eligible))]
        return dict(zip(eligible, exact, strict=True))

    def provenance_summaries(self) -> list[ProvenanceSummary]:
        """Each query's provenance method and row counts, for the manifest."""
        out = []
        for db_id, index in self.chunks():
            query = self.queries(db_id)[index]
            builder = self.builder(db_id)
            try:
                prov = builder.provenance(query)
            except HoloBenchError:
                continue
            out.append(prov.summary(query.id, builder.db, builder.relevant_tables(query)))
        return out

    def _can_withhold(self, db_id: str, index: int) -> bool:
        query = self.queries(db_id)[index]
        try:
            return self.builder(db_id).sampler(query).can_withhold()
        except HoloBenchError:
            return False

    def count(self) -> int:
        s = self.suite
        per_query = len(s.lengths) * len(s.settings) * len(s.placements) * len(s.seeds)
        return per_query * sum(len(self.queries(d)) for d in self.database_ids())

    def database(self, db_id: str) -> Database:
        if db_id not in self._dbs:
            self._dbs[db_id] = self.source.open(db_id)
        return self._dbs[db_id]

    def filler_ids(self, db_id: str) -> list[str]:
        return filler_ids(self.suite.fillers, db_id, self.source)

    def builder(self, db_id: str) -> InstanceBuilder:
        if db_id not in self._builders:
            self._builders.clear()  # one database at a time keeps memory flat
            fillers = [self.database(f) for f in self.filler_ids(db_id)]
            self._builders[db_id] = InstanceBuilder(
                self.database(db_id),
                self.tokenizer,
                fillers=fillers,
                source=self.suite.source,
                lines_cache=self._lines,
                provenance_cache=self._provenance,
                perturbation=self.suite.perturb,
            )
        return self._builders[db_id]

    def build(self, job: Job) -> Instance:
        return self.builder(job.db_id).build(
            job.query,
            job.length,
            placement=job.placement,
            seed=job.seed,
            amount=job.setting.amount,
            density=job.setting.density,
            sampling=self.suite.sampling,
            positives=self.suite.positives,
            answerable=job.answerable,
        )


def _skip_record(job: Job, exc: Exception) -> dict[str, Any]:
    return {
        "db_id": job.db_id,
        "query_id": job.query.id,
        "length": job.length,
        "setting": job.setting.model_dump(exclude_none=True),
        "placement": job.placement.value,
        "seed": job.seed,
        "reason": str(exc),
    }


_RUNS: dict[str, SuiteRun] = {}


def build_query_cells(suite_json: str, chunk: tuple[str, int, int]) -> list[Cell]:
    """One query's cells, in a worker process or on a Ray node: the suite comes as JSON (it
    pickles small), and its SuiteRun is kept for the next query, which reuses its caches."""
    if suite_json not in _RUNS:
        _RUNS.clear()
        _RUNS[suite_json] = SuiteRun(Suite.model_validate_json(suite_json))
    return _RUNS[suite_json].build_chunk(*chunk)


def instance_json(instance: Instance) -> str:
    """One JSONL line; None-valued optional fields (the unused setting, a line's db) are left out."""
    return instance.model_dump_json(exclude_none=True)


@dataclass
class _Tally:
    """What writing the cells found, for the manifest."""

    counts: dict[str, int] = field(default_factory=dict)
    withheld: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)


def generate_suite(
    suite: Suite,
    out_dir: Path,
    *,
    source: Source | None = None,
    parquet: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Write ``instances.jsonl`` (and ``instances.parquet``) and ``manifest.json`` into ``out_dir``.

    Each query is one task, for ``executor`` (default: ``workers`` local processes); this process
    writes the results in grid order, so the output is byte-identical whichever executor built
    it.  A ``source`` object cannot leave this process: it needs an in-process executor.
    """
    run = SuiteRun(suite, source)
    total = run.count()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / "instances.jsonl"
    quotas = run.withheld_quotas()
    chunks = [(db_id, index, quotas.get((db_id, index), 0)) for db_id, index in run.chunks()]
    own = executor is None
    if executor is None:
        executor = LocalExecutor(workers if source is None and len(chunks) > 1 else 1)
    if source is not None and not executor.in_process:
        raise HoloBenchError(f"a Source object is built in this process only; executor {executor.name!r} is not")
    build: Callable[[tuple[str, int, int]], list[Cell]] = (
        (lambda chunk: run.build_chunk(*chunk))
        if executor.in_process
        else functools.partial(build_query_cells, suite.model_dump_json())
    )
    try:
        tally = _write_cells(final, chunks, executor.map_ordered(build, chunks), total, progress)
    finally:
        if own:
            executor.close()
    manifest = _manifest(suite, run, tally, final, total)
    if parquet:
        manifest["files"]["instances.parquet"] = write_parquet(final, out_dir / "instances.parquet")
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _write_cells(
    final: Path,
    chunks: list[tuple[str, int, int]],
    results: Iterator[list[Cell]],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> _Tally:
    """Stream the built cells into ``final`` in grid order, through a temporary file."""
    tally = _Tally()
    tmp = final.with_name(final.name + ".tmp")
    done = 0
    try:
        with naming(final), tmp.open("w", encoding="utf-8") as fh:
            for (db_id, _, _), cells in zip(chunks, results, strict=True):
                for line, skip, answerable in cells:
                    if answerable is False:
                        tally.withheld += 1
                    if line is not None:
                        fh.write(line)
                        tally.digest.update(line.encode("utf-8"))
                        tally.counts[db_id] = tally.counts.get(db_id, 0) + 1
                    elif skip is not None:
                        tally.skipped.append(skip)
                    done += 1
                    if progress is not None:
                        progress(done, total)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(final)
    return tally


def _manifest(suite: Suite, run: SuiteRun, tally: _Tally, final: Path, total: int) -> dict[str, Any]:
    built = sum(tally.counts.values())
    manifest = {
        "suite": suite.model_dump(mode="json"),
        "suite_hash": suite.suite_hash(),
        "holobench_version": __version__,
        "generator_version": GENERATOR_VERSION,
        "tokenizer": suite.tokenizer,
        "versions": versions(tokenizer=suite.tokenizer),
        "source_revision": run.source.revision(),
        "instances": built,
        "instances_per_database": tally.counts,
        "grid_size": total,
        "sampling": _sampling_record(suite, tally.withheld, built),
        "provenance": [p.model_dump() for p in run.provenance_summaries()] if suite.sampling == "answerable" else [],
        "skipped": tally.skipped,
        "files": {"instances.jsonl": {"sha256": tally.digest.hexdigest(), "bytes": final.stat().st_size}},
    }
    SuiteManifest.model_validate(manifest)  # the shape every reader of it expects
    return manifest


def write_parquet(jsonl: Path, target: Path) -> dict[str, Any]:
    """Convert the JSONL to Parquet with DuckDB (nested fields kept as structs and lists)."""
    import duckdb

    tmp = target.with_name(target.name + ".tmp")
    con = duckdb.connect()
    try:
        con.execute(
            "COPY (SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 1073741824)) "
            "TO ? (FORMAT parquet)",
            [str(jsonl), str(tmp)],
        )
    finally:
        con.close()
    tmp.replace(target)
    return {"bytes": target.stat().st_size}


def _sampling_record(suite: Suite, withheld: int, built: int) -> dict[str, Any]:
    """How the relevant rows were chosen, and the unanswerable share asked for and reached."""
    record: dict[str, Any] = {"strategy": suite.sampling.value}
    if suite.sampling is Sampling.ANSWERABLE:
        record.update(
            positives=suite.positives,
            unanswerable_requested=suite.unanswerable,
            unanswerable_instances=withheld,
            unanswerable_share=round(withheld / built, 4) if built else 0.0,
        )
    return record
