"""Build one instance: sample rows, fit an exact token length, place relevant lines, compute gold.

Definitions (the README repeats them):

* Relevant rows are rows of the tables the query reads; auxiliary rows are rows of the other
  tables; filler rows come from other databases, used only when auxiliary rows run out.
* Rows are sampled with a seeded RNG, without replacement; a row never appears twice.
  Relevant rows are drawn round-robin over the relevant tables, each table in its own seeded
  order, until the next row would overflow the budget (amount, or density x target).  The draw
  does not depend on the target length or placement, so at a fixed amount every length and
  placement sees the same relevant rows.
* Length: the context is ``"\\n".join(lines)``.  Auxiliary rows are added in seeded order until
  the next one would overflow the target, so the final count is never above the target and
  short of it by less than the next row would add.  Counts are cached per row; the final
  string is counted once to confirm.
* Placement over the order of lines, R relevant and A auxiliary: begin / end; middle (floor(A/2)
  auxiliary lines, then the relevant block); bimodal (ceil(R/2) relevant lines first, the rest
  last); uniform (auxiliary gaps before, between and after relevant lines differ by at most
  one); random (seeded positions).
* Gold: the query, transpiled to DuckDB, on exactly the relevant rows in the context, in a fresh
  DuckDB connection that cannot touch files.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import duckdb

from holobench.database import Database, load_table, lock_down, new_connection
from holobench.errors import HoloBenchError, QueryError
from holobench.lines import SEPARATOR, Line, TableLines, round_robin, seeded_rng, take
from holobench.placements import PLACEMENTS
from holobench.provenance import Provenance, compute_provenance
from holobench.records import Instance, InstanceConfig, InstanceStats, Perturbation, Placement, Query, Result
from holobench.sampling import ATTEMPTS, DEFAULT_POSITIVES, AnswerableSampler, Draw, Sampling, acceptable
from holobench.sql import execute_duckdb, parse, tables_used
from holobench.tokenizers import Tokenizer, lines_add_up

GENERATOR_VERSION = "1"


class GenerationError(HoloBenchError):
    """An instance cannot be built as asked."""


@dataclass(frozen=True)
class Plan:
    """The chosen lines in context order, the exact token count, and the first unused candidate."""

    relevant: list[Line]
    auxiliary: list[Line]
    ordered: list[tuple[Line, bool]]
    tokens: int
    next_line: Line | None

    @classmethod
    def make(
        cls,
        relevant: list[Line],
        auxiliary: list[Line],
        placement: Placement,
        rng_parts: tuple[object, ...],
        next_line: Line | None,
    ) -> Plan:
        ordered = arrange(relevant, auxiliary, placement, seeded_rng(*rng_parts))
        tokens = sum(x.tokens_sep for x, _ in ordered[:-1]) + (ordered[-1][0].tokens if ordered else 0)
        return cls(relevant, auxiliary, ordered, tokens, next_line)


def arrange(
    relevant: Sequence[Line], auxiliary: Sequence[Line], placement: Placement, rng: random.Random
) -> list[tuple[Line, bool]]:
    """Interleave relevant and auxiliary lines as ``placement`` defines (``holobench.placements``);
    returns (line, relevant) pairs."""
    arranger = PLACEMENTS.get(placement)
    if arranger is None:
        raise GenerationError(f"unknown placement {placement!r}")
    return cast(list[tuple[Line, bool]], arranger(relevant, auxiliary, rng))


def _relevant_order(tables: dict[str, list[Line]], seed: int, db_id: str, query_id: str) -> list[Line]:
    """Round-robin over the relevant tables, each shuffled with its own seeded stream."""
    queues = []
    for name in sorted(tables):
        rows = list(tables[name])
        seeded_rng(seed, db_id, query_id, "relevant", name).shuffle(rows)
        queues.append(rows)
    return round_robin(queues)


def instance_id(payload: Mapping[str, object]) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class LazyFiller:
    """A filler database opened only when an instance needs it (most need none)."""

    db_id: str
    open: Callable[[], Database]


class InstanceBuilder:
    """Builds instances for one database; caches row token counts and gold answers."""

    def __init__(
        self,
        db: Database,
        tokenizer: Tokenizer,
        *,
        fillers: Sequence[Database | LazyFiller] = (),
        source: str = "bundled",
        lines_cache: dict[str, TableLines] | None = None,
        provenance_cache: dict[tuple[str, str, str], Provenance] | None = None,
        perturbation: Perturbation | None = None,
    ) -> None:
        self.db = db
        self.tokenizer = tokenizer
        self.source = source
        self.perturbation = perturbation  # recorded only: ``db`` is already the rewritten database
        # Token counts of a database's rows are shared between builders that use it (as the main
        # database or as filler) through ``lines_cache``.
        cache = lines_cache if lines_cache is not None else {}
        self._lines = cache.setdefault(db.db_id, TableLines(db, tokenizer))
        self._cache = cache
        self._filler_specs = list(fillers)
        self._filler_lines: list[TableLines] | None = None
        self._gold: dict[tuple[str, tuple[tuple[str, int], ...]], Result] = {}
        self._tables_of: dict[tuple[str, str], list[str]] = {}
        self._order_cache: dict[tuple[int, str, str], tuple[list[Line], list[Line]]] = {}
        self._filler_cache: dict[tuple[int, str], list[Line]] = {}
        # Provenance depends on the database and the query only: a suite shares it between builders.
        self._provenance = provenance_cache if provenance_cache is not None else {}
        self._samplers: dict[tuple[str, str], AnswerableSampler] = {}
        self._gold_con: duckdb.DuckDBPyConnection | None = None

    @property
    def _fillers(self) -> list[TableLines]:
        """Filler databases' lines; a lazy filler is opened only now, when auxiliary rows ran out."""
        if self._filler_lines is None:
            opened = [f.open() if isinstance(f, LazyFiller) else f for f in self._filler_specs]
            self._filler_lines = [self._cache.setdefault(f.db_id, TableLines(f, self.tokenizer)) for f in opened]
        return self._filler_lines

    # ------------------------------------------------------------------ candidates
    def relevant_tables(self, query: Query) -> list[str]:
        key = (query.sql, query.dialect)
        if key not in self._tables_of:
            tree = parse(query.sql, query.dialect)
            self._tables_of[key] = sorted({self.db.table_name(t) for t in tables_used(tree)})
        return self._tables_of[key]

    def _orders(self, query: Query, seed: int) -> tuple[list[Line], list[Line]]:
        """Seeded candidate orders (relevant, own auxiliary), cached for the current query and seed."""
        key = (seed, query.id, query.sql)
        if key not in self._order_cache:
            names = self.relevant_tables(query)
            relevant = _relevant_order({t: self._lines.lines(t) for t in names}, seed, self.db.db_id, query.id)
            own = [x for t in self.db.tables if t not in names for x in self._lines.lines(t)]
            seeded_rng(seed, self.db.db_id, query.id, "auxiliary").shuffle(own)
            if len(self._order_cache) >= 4:
                self._order_cache.pop(next(iter(self._order_cache)))
            self._order_cache[key] = (relevant, own)
        return self._order_cache[key]

    def _filler_order(self, query: Query, seed: int) -> list[Line]:
        """Rows of the filler databases in seeded order; built only when auxiliary rows run out."""
        key = (seed, query.id)
        if key not in self._filler_cache:
            filler = [x for f in self._fillers for t in f.db.tables for x in f.lines(t)]
            seeded_rng(seed, self.db.db_id, query.id, "filler").shuffle(filler)
            self._filler_cache.clear()
            self._filler_cache[key] = filler
        return self._filler_cache[key]

    # ------------------------------------------------------------------ plan
    def plan(
        self,
        query: Query,
        target: int,
        budget: int,
        placement: Placement,
        seed: int,
        drawn: list[Line] | None = None,
    ) -> Plan:
        """Choose and order the lines: exact length from cached counts, no duplicates.

        ``drawn``: relevant lines chosen by another sampling strategy (answerable sampling);
        by default they are drawn uniformly here.
        """
        order, own = self._orders(query, seed)
        if drawn is None:
            relevant, rel_used = take(order, budget)
        else:
            relevant, rel_used = drawn, sum(x.tokens_sep for x in drawn)
        if not relevant:
            need = order[0].tokens_sep if order else 0
            raise GenerationError(
                f"{self.db.db_id}/{query.id}: "
                + (
                    f"no relevant row fits an information budget of {budget} tokens; the next one needs {need}"
                    if order
                    else f"the tables it reads ({', '.join(self.relevant_tables(query))}) have no rows"
                )
            )
        # Each line is counted with its separator; the last line has none, hence one token of slack.
        aux, aux_used = take(own, target + 1 - rel_used)
        candidates: Sequence[Line] = own
        if len(aux) == len(own) and self._filler_specs:
            filler, _ = take(self._filler_order(query, seed), target + 1 - rel_used - aux_used)
            aux = aux + filler
            candidates = [*own, *self._filler_order(query, seed)]
        rng_parts = (seed, self.db.db_id, query.id, "placement", placement.value)
        plan = Plan.make(
            relevant, aux, placement, rng_parts, candidates[len(aux)] if len(aux) < len(candidates) else None
        )
        if plan.next_line is None and plan.tokens < target:
            raise GenerationError(
                f"{self.db.db_id}/{query.id}: cannot fill {target} tokens: the relevant rows with every auxiliary "
                f"and filler row give {plan.tokens}; ask for {plan.tokens} or less, or add filler databases"
            )
        if plan.tokens <= target:
            return plan
        # Over by the one token of slack: the last line's separator merged into it.  Drop one auxiliary
        # line that does not end the context, so the length stays within one row of the target.
        for drop in range(len(aux) - 1, -1, -1):
            trial = Plan.make(relevant, aux[:drop] + aux[drop + 1 :], placement, rng_parts, aux[drop])
            if trial.tokens <= target and target - trial.tokens < aux[drop].tokens_sep:
                return trial
        raise GenerationError(f"{self.db.db_id}/{query.id}: no arrangement fits {target} tokens exactly")

    # ------------------------------------------------------------------ build
    def build(
        self,
        query: Query,
        target_tokens: int,
        *,
        placement: Placement | str,
        seed: int = 0,
        amount: int | None = None,
        density: float | None = None,
        sampling: Sampling | str = Sampling.UNIFORM,
        positives: float = DEFAULT_POSITIVES,
        answerable: bool = True,
    ) -> Instance:
        """One instance; ``sampling`` chooses its relevant rows (``holobench.sampling``), and with
        answerable sampling ``answerable=False`` withholds every answer row by design."""
        placement = Placement(placement)
        sampling = Sampling(sampling)
        if (amount is None) == (density is None):
            raise GenerationError("give exactly one of an information amount (tokens) or a density (share)")
        budget = amount if amount is not None else int((density or 0) * target_tokens)
        if budget > target_tokens or budget < 1:
            raise GenerationError(f"information amount {budget} exceeds the target length {target_tokens}")
        config = InstanceConfig(
            tokenizer=self.tokenizer.name,
            target_tokens=target_tokens,
            info_amount=amount,
            info_density=density,
            placement=placement,
            seed=seed,
            sampling=sampling.value if sampling is Sampling.ANSWERABLE else None,
            positives=positives if sampling is Sampling.ANSWERABLE else None,
        )
        draw: Draw | None = None
        if sampling is Sampling.ANSWERABLE:
            draw, gold = self._answerable_draw(query, budget, seed, positives, answerable)
        plan = self.plan(query, target_tokens, budget, placement, seed, draw.lines if draw else None)
        if draw is None:
            gold = self.gold(query, plan.relevant)
        return self._instance(query, config, plan, gold, draw, answerable)

    def _instance(
        self, query: Query, config: InstanceConfig, plan: Plan, gold: Result, draw: Draw | None, answerable: bool
    ) -> Instance:
        """The instance record of a plan: its context (checked to add up to the plan's tokens),
        a content-derived id, statistics and the provenance of every line."""
        relevant, aux, ordered = plan.relevant, plan.auxiliary, plan.ordered
        texts = [line.text for line, _ in ordered]
        context = SEPARATOR.join(texts)
        tokens = plan.tokens if lines_add_up(self.tokenizer, texts) else self.tokenizer.count(context)
        if tokens != plan.tokens:
            raise GenerationError(
                f"tokenizer {self.tokenizer.name} is not additive over lines here ({tokens} != {plan.tokens}); "
                "report this with the database and query"
            )
        config_json = config.model_dump(mode="json")
        for key in ("sampling", "positives"):  # absent under uniform sampling: ids stay as they were
            if config_json[key] is None:
                del config_json[key]
        payload = {
            "generator": GENERATOR_VERSION,
            "source": self.source,
            "db_id": self.db.db_id,
            "fillers": [f.db_id for f in self._filler_specs],
            "query": [query.id, query.sql, query.question],
            "config": config_json,
            **({"answerable": answerable} if draw is not None else {}),
            **({"perturbation": self.perturbation.model_dump(mode="json")} if self.perturbation else {}),
        }
        filler_rows = sum(1 for x in aux if x.db != self.db.db_id)
        return Instance(
            id=instance_id(payload),
            db_id=self.db.db_id,
            source=self.source,
            query_id=query.id,
            question=query.question,
            sql=query.sql,
            categories=query.categories,
            difficulty=query.difficulty,
            context=context,
            gold=gold,
            config=config,
            stats=InstanceStats(
                tokens=tokens,
                relevant_tokens=sum(x.tokens_sep for x in relevant),
                relevant_rows=len(relevant),
                auxiliary_rows=len(aux) - filler_rows,
                filler_rows=filler_rows,
                answer_rows=len(draw.answers) if draw is not None else None,
            ),
            lines=[
                line.source(
                    is_rel, self.db.db_id, ((line.table, line.row) in draw.answers) if draw and is_rel else None
                )
                for line, is_rel in ordered
            ],
            answerable=answerable if draw is not None else None,
            perturbation=self.perturbation,
        )

    # ------------------------------------------------------------------ answerable sampling
    def provenance(self, query: Query) -> Provenance:
        """The query's provenance over this database, computed once."""
        key = (self.db.db_id, query.sql, query.dialect)
        if key not in self._provenance:
            try:
                self._provenance[key] = compute_provenance(self.db, query.sql, query.dialect)
            except QueryError as exc:
                raise GenerationError(f"{self.db.db_id}/{query.id}: provenance: {exc}") from exc
        return self._provenance[key]

    def sampler(self, query: Query) -> AnswerableSampler:
        key = (query.sql, query.dialect)
        if key not in self._samplers:
            self._samplers.clear()  # a suite builds one query at a time
            tables = self.relevant_tables(query)
            self._samplers[key] = AnswerableSampler(self.db, self._lines, self.provenance(query), tables)
        return self._samplers[key]

    def _answerable_draw(
        self, query: Query, budget: int, seed: int, positives: float, answerable: bool
    ) -> tuple[Draw, Result]:
        """A draw whose gold passes the check, trying ``ATTEMPTS`` seeded draws."""
        sampler = self.sampler(query)
        where = f"{self.db.db_id}/{query.id}"
        if not answerable and not sampler.can_withhold():
            raise GenerationError(f"{where}: every row of the tables it reads answers it; no unanswerable draw exists")
        prov = self.provenance(query)
        if answerable and not prov.groups:
            raise GenerationError(f"{where}: no rows answer it on the full database ({prov.note or 'empty result'})")
        parts = (seed, self.db.db_id, query.id)
        for attempt in range(ATTEMPTS):
            draw = sampler.draw(budget, positives=positives, answerable=answerable, parts=parts, attempt=attempt)
            if not draw.lines:
                raise GenerationError(f"{where}: no relevant row fits an information budget of {budget} tokens")
            gold = self.gold(query, draw.lines)
            if acceptable(gold, prov, answerable, attempt):
                return draw, gold
        kind = "a non-degenerate answer" if answerable else "an empty answer"
        hint = " (its HAVING threshold may need more rows than the budget holds)" if prov.having and answerable else ""
        raise GenerationError(f"{where}: no draw of {budget} tokens gives {kind} in {ATTEMPTS} attempts{hint}")

    # ------------------------------------------------------------------ gold
    def gold(self, query: Query, relevant: Sequence[Line]) -> Result:
        """The query on exactly ``relevant`` rows, in a connection that cannot touch files.

        One connection serves every gold answer of the builder (opening one costs about 10 ms):
        it is locked before any table is loaded, and the tables are dropped after each query.
        """
        key = (query.sql, tuple(sorted((x.table, x.row) for x in relevant)))
        cached = self._gold.get(key)
        if cached is not None:
            return cached
        if self._gold_con is None:
            self._gold_con = new_connection()
            lock_down(self._gold_con)
        con = self._gold_con
        by_table: dict[str, list[int]] = {t: [] for t in self.relevant_tables(query)}
        for x in relevant:
            by_table[x.table].append(x.row)
        schema = {}
        try:
            for table, rows in by_table.items():
                ts = self.db.schema(table)
                all_rows = self.db.rows(table)
                picked = [all_rows[i] for i in sorted(rows)]
                columns = [(c.name, c.type) for c in ts.columns]
                values = [list(col) for col in zip(*picked, strict=True)] if picked else [[] for _ in columns]
                schema[table] = {c.name: c.type for c in ts.columns}  # before loading: dropped even if it fails
                load_table(con, table, columns, values)
            result = execute_duckdb(con, query.sql, schema, dialect=query.dialect)
        except QueryError as exc:
            raise GenerationError(f"{self.db.db_id}/{query.id}: gold: {exc}") from exc
        finally:
            for table in schema:
                con.execute(f'DROP TABLE IF EXISTS "{table}"')
        self._gold[key] = result
        return result
