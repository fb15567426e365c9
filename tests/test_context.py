"""Instance builder invariants: exact length, no duplicates, amount/density, placement, gold."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holobench.context import GenerationError, InstanceBuilder, arrange
from holobench.oracle import rows_equal, use_reference_round
from holobench.records import Instance, Placement, Query
from holobench.sources import BundledSource, Database, SpiderSource
from holobench.sources.sqlite import load_sqlite
from holobench.sql import finish_rows, parse, tables_used, with_tiebreak
from holobench.tokenizers import get_tokenizer

TOKENIZER = get_tokenizer("o200k_base")
HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def queries(bundled: BundledSource) -> list[Query]:
    return [q for d in bundled.list_databases() for q in bundled.queries(d)]


# --------------------------------------------------------------------------- placement


def _flags(n_rel: int, n_aux: int, placement: Placement, seed: int = 0) -> list[bool]:
    import random

    from holobench.lines import Line

    rel = [Line("d", "r", i, "", 1, 1) for i in range(n_rel)]
    aux = [Line("d", "a", i, "", 1, 1) for i in range(n_aux)]
    return [flag for _, flag in arrange(rel, aux, placement, random.Random(seed))]


def _runs_of_aux(flags: Sequence[bool]) -> list[int]:
    """Auxiliary lines before the first relevant line, between each pair, and after the last."""
    gaps, count = [], 0
    for flag in flags:
        if flag:
            gaps.append(count)
            count = 0
        else:
            count += 1
    return [*gaps, count]


def check_placement(flags: Sequence[bool], placement: Placement) -> None:
    r = sum(flags)
    a = len(flags) - r
    rel_positions = [i for i, f in enumerate(flags) if f]
    if r == 0:
        return
    if placement is Placement.BEGIN:
        assert rel_positions == list(range(r))
    elif placement is Placement.END:
        assert rel_positions == list(range(a, a + r))
    elif placement is Placement.MIDDLE:
        assert rel_positions == list(range(a // 2, a // 2 + r))
    elif placement is Placement.BIMODAL:
        head = (r + 1) // 2
        assert rel_positions == [*range(head), *range(head + a, a + r)]
    elif placement is Placement.UNIFORM:
        gaps = _runs_of_aux(flags)
        assert len(gaps) == r + 1 and max(gaps) - min(gaps) <= 1


@given(
    n_rel=st.integers(0, 60),
    n_aux=st.integers(0, 200),
    placement=st.sampled_from(list(Placement)),
    seed=st.integers(0, 10),
)
def test_placements_are_exact(n_rel: int, n_aux: int, placement: Placement, seed: int) -> None:
    flags = _flags(n_rel, n_aux, placement, seed)
    assert len(flags) == n_rel + n_aux and sum(flags) == n_rel
    check_placement(flags, placement)


def test_bimodal_is_not_begin_and_middle_is_centred() -> None:
    """The reference code's two mislabelled placements."""
    assert _flags(4, 10, Placement.BIMODAL) == [True, True, *[False] * 10, True, True]
    assert _flags(2, 10, Placement.MIDDLE) == [*[False] * 5, True, True, *[False] * 5]


def test_random_placement_depends_on_the_seed() -> None:
    assert _flags(10, 50, Placement.RANDOM, 1) == _flags(10, 50, Placement.RANDOM, 1)
    assert _flags(10, 50, Placement.RANDOM, 1) != _flags(10, 50, Placement.RANDOM, 2)


# --------------------------------------------------------------------------- instance invariants


def check_instance(builder: InstanceBuilder, inst: Instance, query: Query, budget: int) -> None:
    db = builder.db
    target = inst.config.target_tokens
    lines = inst.context.split("\n")
    # exact length, measured on the final string
    assert TOKENIZER.count(inst.context) == inst.stats.tokens <= target
    plan = builder.plan(query, target, budget, inst.config.placement, inst.config.seed)
    if plan.next_line is not None:
        assert target - inst.stats.tokens < plan.next_line.tokens_sep
    # provenance: one entry per line, the right sentence, no duplicates
    assert len(lines) == len(inst.lines)
    keys = [(x.db or db.db_id, x.table, x.row) for x in inst.lines]
    assert len(set(keys)) == len(keys)
    dbs = {db.db_id: db, **{f.db.db_id: f.db for f in builder._fillers}}
    for text, src in zip(lines, inst.lines, strict=True):
        assert dbs[src.db or db.db_id].sentences(src.table)[src.row] == text
    # relevant = rows of the tables the query reads, and only those
    relevant_tables = set(builder.relevant_tables(query))
    for src in inst.lines:
        assert src.relevant == (src.db is None and src.table in relevant_tables)
    assert inst.stats.relevant_rows == sum(x.relevant for x in inst.lines)
    assert inst.stats.filler_rows == sum(x.db is not None for x in inst.lines)
    assert inst.stats.auxiliary_rows == len(inst.lines) - inst.stats.relevant_rows - inst.stats.filler_rows
    # amount / density met within one row, or every relevant row used
    assert inst.stats.relevant_tokens <= budget
    total_relevant = sum(len(db.rows(t)) for t in relevant_tables)
    if inst.stats.relevant_rows < total_relevant:
        order, _ = builder._orders(query, inst.config.seed)
        nxt = order[inst.stats.relevant_rows]
        assert budget - inst.stats.relevant_tokens < nxt.tokens_sep
    # filler only once the database's own auxiliary rows are exhausted
    if inst.stats.filler_rows:
        own = sum(len(db.rows(t)) for t in db.tables if t not in relevant_tables)
        assert inst.stats.auxiliary_rows == own
    check_placement([x.relevant for x in inst.lines], inst.config.placement)


@HYPO
@given(
    index=st.integers(0, 10_000),
    target=st.integers(300, 24_000),
    share=st.floats(0.05, 0.95),
    use_density=st.booleans(),
    placement=st.sampled_from(list(Placement)),
    seed=st.integers(0, 3),
)
def test_instances_hold_every_invariant(
    builders: dict[str, InstanceBuilder],
    queries: list[Query],
    index: int,
    target: int,
    share: float,
    use_density: bool,
    placement: Placement,
    seed: int,
) -> None:
    query = queries[index % len(queries)]
    builder = builders[query.db_id]
    density = round(share, 3) if use_density else None
    amount = None if use_density else max(1, int(share * target))
    budget = amount if amount is not None else int((density or 0) * target)
    if budget < builder._orders(query, seed)[0][0].tokens_sep:
        with pytest.raises(GenerationError, match="no relevant row fits"):
            builder.build(query, target, placement=placement, seed=seed, amount=amount, density=density)
        return
    inst = builder.build(query, target, placement=placement, seed=seed, amount=amount, density=density)
    check_instance(builder, inst, query, budget)


def test_a_small_relevant_table_is_used_whole_and_recorded(builders: dict[str, InstanceBuilder]) -> None:
    builder = builders["store_1"]
    query = Query(
        id="t",
        db_id="store_1",
        question="?",
        sql="SELECT COUNT(*) FROM genres",
        categories=("Aggregation",),
        difficulty="easy",
    )
    inst = builder.build(query, 4096, placement="middle", amount=2048)
    assert inst.stats.relevant_rows == 25 and inst.gold.rows == [[25]]
    assert inst.stats.relevant_tokens < 2048


def test_filler_rows_fill_when_auxiliary_rows_run_out(tmp_path: Path, bundled_dbs: dict[str, Database]) -> None:
    path = tmp_path / "two.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER); CREATE TABLE b (id INTEGER PRIMARY KEY, w TEXT);"
        + "".join(f"INSERT INTO a VALUES ({i}, {i * 7});" for i in range(40))
        + "".join(f"INSERT INTO b VALUES ({i}, 'word{i}');" for i in range(10))
    )
    con.close()
    db = load_sqlite(path, "two", origin="test")
    query = Query(
        id="q", db_id="two", question="?", sql="SELECT SUM(v) FROM a", categories=("Aggregation",), difficulty="easy"
    )
    alone = InstanceBuilder(db, TOKENIZER)
    with pytest.raises(GenerationError, match=r"cannot fill 3000 tokens.*give \d+"):
        alone.build(query, 3000, placement="uniform", amount=200)
    with_filler = InstanceBuilder(db, TOKENIZER, fillers=[bundled_dbs["store_1"]])
    inst = with_filler.build(query, 3000, placement="uniform", amount=200)
    assert inst.stats.auxiliary_rows == 10 and inst.stats.filler_rows > 0
    check_instance(with_filler, inst, query, 200)


def test_bad_settings_are_refused(builders: dict[str, InstanceBuilder], queries: list[Query]) -> None:
    builder = builders[queries[0].db_id]
    with pytest.raises(GenerationError, match="exactly one"):
        builder.build(queries[0], 4096, placement="middle")
    with pytest.raises(GenerationError, match="exceeds"):
        builder.build(queries[0], 4096, placement="middle", amount=5000)


def test_same_inputs_same_bytes_across_processes(builders: dict[str, InstanceBuilder], queries: list[Query]) -> None:
    query = queries[3]
    inst = builders[query.db_id].build(query, 2048, placement="random", seed=7, density=0.5)
    again = builders[query.db_id].build(query, 2048, placement="random", seed=7, density=0.5)
    assert inst.model_dump_json() == again.model_dump_json()
    code = (
        "from holobench.sources import BundledSource\n"
        "from holobench.context import InstanceBuilder\n"
        "from holobench.tokenizers import get_tokenizer\n"
        "src = BundledSource(); dbs = {d: src.open(d) for d in src.list_databases()}\n"
        f"q = [x for x in src.queries({query.db_id!r}) if x.id == {query.id!r}][0]\n"
        f"b = InstanceBuilder(dbs[{query.db_id!r}], get_tokenizer(), "
        f"fillers=[d for k, d in dbs.items() if k != {query.db_id!r}])\n"
        "print(b.build(q, 2048, placement='random', seed=7, density=0.5).model_dump_json())\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert other.stdout.strip() == inst.model_dump_json()
    different_seed = builders[query.db_id].build(query, 2048, placement="random", seed=8, density=0.5)
    assert different_seed.id != inst.id and different_seed.lines != inst.lines


# --------------------------------------------------------------------------- gold, recomputed independently


def recompute_gold_in_sqlite(db: Database, inst: Instance) -> list[list[object]]:
    """Load only the rows named in ``lines`` into SQLite and run the original SQLite SQL."""
    assert db.sqlite_path is not None
    source = sqlite3.connect(f"file:{db.sqlite_path}?mode=ro", uri=True)
    target = use_reference_round(sqlite3.connect(":memory:"))
    wanted: dict[str, set[int]] = {}
    for x in inst.lines:
        if x.relevant:
            wanted.setdefault(x.table, set()).add(x.row)
    tree = parse(inst.sql)
    for table in {db.table_name(t) for t in tables_used(tree)}:
        ddl = source.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        target.execute(ddl)
        rows = source.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
        keep = [r for i, r in enumerate(rows) if i in wanted.get(table, set())]
        if keep:
            target.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" for _ in keep[0])})', keep)
    raw = target.execute(with_tiebreak(tree).sql(dialect="sqlite")).fetchall()
    return finish_rows(tree, raw)


def test_every_gold_of_a_generated_suite_recomputes_in_sqlite(
    builders: dict[str, InstanceBuilder], queries: list[Query]
) -> None:
    checked = 0
    for query in queries:
        builder = builders[query.db_id]
        for target, placement, kw in ((2048, "uniform", {"amount": 1024}), (6000, "bimodal", {"density": 0.5})):
            inst = builder.build(query, target, placement=placement, seed=1, **kw)
            expected = recompute_gold_in_sqlite(builder.db, inst)
            assert rows_equal(expected, inst.gold.rows), (query.id, expected[:3], inst.gold.rows[:3])
            checked += 1
    assert checked == 2 * len(queries)


def test_gold_recomputes_on_spider(spider: SpiderSource) -> None:
    cases = {
        "wine_1": "SELECT Grape, COUNT(*), AVG(Price) FROM wine WHERE Score > 90 GROUP BY Grape ORDER BY COUNT(*) DESC",
        "store_1": "SELECT T1.name, COUNT(*) FROM genres AS T1 JOIN tracks AS T2 ON T1.id = T2.genre_id "
        "GROUP BY T1.name",
        "college_2": "SELECT dept_name, MAX(salary) FROM instructor GROUP BY dept_name HAVING COUNT(*) > 1",
        "flight_4": "SELECT country, COUNT(*) FROM airports WHERE elevation > 1000 GROUP BY country "
        "ORDER BY 2 DESC LIMIT 5",
    }
    filler = spider.open("college_2")
    for db_id, sql in cases.items():
        db = spider.open(db_id)
        builder = InstanceBuilder(db, TOKENIZER, fillers=[filler] if db_id != "college_2" else [])
        query = Query(id="s", db_id=db_id, question="?", sql=sql, categories=("Aggregation",), difficulty="easy")
        inst = builder.build(query, 8192, placement="middle", amount=4096, seed=3)
        assert inst.gold.rows, db_id
        assert rows_equal(recompute_gold_in_sqlite(db, inst), inst.gold.rows), db_id
        json.loads(inst.model_dump_json())


WORDS = ["alpha", "beta", "gamma", "delta", "Zeta", "omega", "kappa", "x", "12", "3.5", "née", "O'Neil"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 60), min_size=2, max_size=4),
    width=st.integers(1, 12),
    data=st.data(),
)
def test_invariants_over_random_tables(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], width: int, data: st.DataObject
) -> None:
    """Random tables (row counts, sentence lengths), targets, budgets, placements and seeds."""
    path = tmp_path_factory.mktemp("rand") / "r.sqlite"
    con = sqlite3.connect(path)
    for t, n in enumerate(sizes):
        con.execute(f"CREATE TABLE t{t} (id INTEGER PRIMARY KEY, v INTEGER, s TEXT)")
        rows = [
            (i, data.draw(st.integers(-50, 50)), " ".join(data.draw(st.lists(st.sampled_from(WORDS), max_size=width))))
            for i in range(n)
        ]
        con.executemany(f"INSERT INTO t{t} VALUES (?, ?, ?)", rows)
    con.commit()
    con.close()
    db = load_sqlite(path, "rand", origin="test")
    builder = InstanceBuilder(db, TOKENIZER)
    sql = data.draw(
        st.sampled_from(["SELECT COUNT(*), SUM(v) FROM t0", "SELECT t0.s, t1.v FROM t0 JOIN t1 ON t0.id = t1.id"])
    )
    query = Query(id="r", db_id="rand", question="?", sql=sql, categories=("Aggregation",), difficulty="easy")
    everything = sum(x.tokens_sep for t in db.tables for x in builder._lines.lines(t)) - 1
    target = data.draw(st.integers(5, everything))
    budget = data.draw(st.integers(1, target))
    placement = data.draw(st.sampled_from(list(Placement)))
    seed = data.draw(st.integers(0, 5))
    first_relevant = builder._orders(query, seed)[0][0]
    if budget < first_relevant.tokens_sep:
        with pytest.raises(GenerationError, match="no relevant row fits"):
            builder.build(query, target, placement=placement, seed=seed, amount=budget)
        return
    order, own = builder._orders(query, seed)
    rel_used = 0
    for line in order:
        if rel_used + line.tokens_sep > budget:
            break
        rel_used += line.tokens_sep
    reachable = rel_used + sum(x.tokens_sep for x in own)  # every row once, plus at most one separator
    if target >= reachable:
        try:
            inst = builder.build(query, target, placement=placement, seed=seed, amount=budget)
        except GenerationError as exc:
            said = int(re.search(r"give (\d+)", str(exc)).group(1))  # type: ignore[union-attr]
            assert reachable - 1 <= said < target
            return
        assert inst.stats.tokens == target  # only an exact fit may use every row
    else:
        inst = builder.build(query, target, placement=placement, seed=seed, amount=budget)
    check_instance(builder, inst, query, budget)
    assert rows_equal(recompute_gold_in_sqlite(db, inst), inst.gold.rows)
    with pytest.raises(GenerationError, match="cannot fill"):
        builder.build(query, everything + 50, placement=placement, seed=seed, amount=budget)
