"""Counterfactual databases: the rewrite's invariants on every bundled database and on the real
Spider files, its determinism, and gold re-verified on SQLite against the re-materialised file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from holobench.cli import app
from holobench.database import Database
from holobench.errors import HoloBenchError
from holobench.oracle import rows_equal, use_reference_round
from holobench.perturb import (
    collect_pins,
    date_offset,
    key_columns,
    materialise,
    name_kind,
    perturb_database,
    perturbed,
)
from holobench.records import ForeignKey, Instance, Perturbation
from holobench.sources import BundledSource, SpiderSource
from holobench.sql import finish_rows, parse, tables_used, with_tiebreak
from holobench.suite import generate_suite, load_suite
from holobench.verbalize import check_database
from holobench.verify import verify_gold

from .conftest import BUNDLED_IDS

NAMES_ONLY = Perturbation(seed=5, kinds=("names",))


def _sqls(bundled: BundledSource, db_id: str) -> list[str]:
    return [q.sql for q in bundled.queries(db_id)]


@pytest.fixture(scope="module")
def rewritten(bundled: BundledSource, bundled_dbs: dict[str, Database]) -> dict[str, Database]:
    """Every bundled database with every kind of rewrite, seed 0 (as paper-counterfactual)."""
    return {d: perturb_database(db, Perturbation(seed=0), _sqls(bundled, d)) for d, db in bundled_dbs.items()}


def _digest(db: Database) -> str:
    blob = json.dumps({t: db.rows(t) for t in db.tables}, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- consistency and keys


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_one_mapping_per_name_kind_across_tables_injective_and_real(
    bundled: BundledSource, bundled_dbs: dict[str, Database], db_id: str
) -> None:
    original = bundled_dbs[db_id]
    renamed = perturb_database(original, NAMES_ONLY, _sqls(bundled, db_id))
    keys = key_columns(original.schemas)
    mapping: dict[str, dict[str, str]] = {}
    changed = 0
    for schema in original.schemas:
        for j, col in enumerate(schema.columns):
            kind = name_kind(col.name, col.type)
            rows = zip(original.rows(schema.name), renamed.rows(schema.name), strict=True)
            for old, new in ((a[j], b[j]) for a, b in rows):
                if kind is None or col.name in keys[schema.name] or old is None:
                    assert new == old, (schema.name, col.name)  # only names are renamed, nothing moves
                    continue
                assert mapping.setdefault(kind, {}).setdefault(old, new) == new, (kind, old)  # one way everywhere
                changed += old != new
    for kind, pairs in mapping.items():
        assert len(set(pairs.values())) == len(pairs), kind  # injective: distinct stays distinct
        renamed_to = {n for o, n in pairs.items() if o != n}
        assert not renamed_to & set(pairs), kind  # a new name is never an old one of the same kind
    assert changed > 100


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_keys_stay_in_place_and_foreign_keys_still_resolve(
    bundled_dbs: dict[str, Database], rewritten: dict[str, Database], db_id: str
) -> None:
    original, new = bundled_dbs[db_id], rewritten[db_id]
    keys = key_columns(original.schemas)
    moved = 0
    for schema in original.schemas:
        assert new.schema(schema.name) == schema and new.row_count(schema.name) == original.row_count(schema.name)
        for j, col in enumerate(schema.columns):
            old_values = [r[j] for r in original.rows(schema.name)]
            new_values = [r[j] for r in new.rows(schema.name)]
            if col.name in keys[schema.name]:
                assert new_values == old_values, (schema.name, col.name)
            else:
                moved += sum(a != b for a, b in zip(old_values, new_values, strict=True))
        for fk in schema.foreign_keys:
            assert _linked(new, schema.name, fk) == _linked(original, schema.name, fk), (schema.name, fk)
    assert moved > 1000


def _linked(db: Database, table: str, fk: ForeignKey) -> int:
    """Rows of ``table`` whose foreign key finds its row."""
    sql = f'SELECT COUNT(*) FROM "{table}" t JOIN "{fk.ref_table}" r ON t."{fk.column}" = r."{fk.ref_column}"'
    found = db.connection.execute(sql).fetchone()
    assert found is not None
    return int(found[0])


# --------------------------------------------------------------------------- ranges, types, dates


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_values_keep_their_column_range_type_and_precision_and_dates_shift_by_one_offset(
    bundled: BundledSource, bundled_dbs: dict[str, Database], rewritten: dict[str, Database], db_id: str
) -> None:
    original, new = bundled_dbs[db_id], rewritten[db_id]
    pinned = collect_pins(_sqls(bundled, db_id)).columns
    offset = date_offset(0, db_id)
    shifted = 0
    for schema in original.schemas:
        for j, col in enumerate(schema.columns):
            old_values = [r[j] for r in original.rows(schema.name)]
            new_values = [r[j] for r in new.rows(schema.name)]
            assert Counter(type(v) for v in new_values) == Counter(type(v) for v in old_values), col.name
            if col.type in ("DATE", "TIMESTAMP") and col.name.lower() not in pinned:
                old_values = [v + offset if v is not None else None for v in old_values]
                shifted += 1
            if name_kind(col.name, col.type) is None:  # numbers, dates, codes: the same values, moved
                assert Counter(map(repr, new_values)) == Counter(map(repr, old_values)), (schema.name, col.name)
    assert (shifted > 0) == (db_id != "nycflights")  # nycflights' two date columns are both compared with literals


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_every_value_a_query_names_is_kept(
    bundled: BundledSource, bundled_dbs: dict[str, Database], db_id: str
) -> None:
    original = bundled_dbs[db_id]
    sqls = _sqls(bundled, db_id)
    pins = collect_pins(sqls)
    renamed = perturb_database(original, NAMES_ONLY, sqls)
    kept = 0
    for schema in original.schemas:
        for j, col in enumerate(schema.columns):
            for old, new in zip(original.rows(schema.name), renamed.rows(schema.name), strict=True):
                if isinstance(old[j], str) and pins.keeps(col.name, old[j]):
                    assert new[j] == old[j], (schema.name, col.name, old[j])
                    kept += 1
    assert kept > 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**31))
def test_property_a_literal_of_any_query_keeps_its_rows_and_the_rewrite_is_seeded(
    bundled_dbs: dict[str, Database], data: st.DataObject, seed: int
) -> None:
    """Any text value named by a query survives the rewrite as often as it occurred; the same seed
    rewrites identically, and every number stays within its column's range."""
    db = bundled_dbs["store_1"]
    table = data.draw(st.sampled_from(["customers", "artists", "albums", "tracks", "invoices"]))
    schema = db.schema(table)
    text = [c.name for c in schema.columns if name_kind(c.name, c.type) and c.name not in key_columns([schema])[table]]
    column = data.draw(st.sampled_from(text))
    value = data.draw(st.sampled_from(sorted({v for v in db.connection.execute(
        f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall()})))[0]  # fmt: skip
    escaped = value.replace("'", "''")
    sql = f"SELECT COUNT(*) FROM {table} WHERE {column} = '{escaped}'"
    perturbation = Perturbation(seed=seed)
    one, two = (perturb_database(db, perturbation, [sql]) for _ in range(2))
    assert _digest(one) == _digest(two)
    assert one.execute(sql).rows == db.execute(sql).rows  # count over the whole table: value kept everywhere
    for col in ("total",):
        extremes = f"SELECT MIN({col}), MAX({col}) FROM invoices"
        assert one.connection.execute(extremes).fetchone() == db.connection.execute(extremes).fetchone()


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_database_in_another_process_other_seed_other_database(
    bundled: BundledSource, bundled_dbs: dict[str, Database], rewritten: dict[str, Database]
) -> None:
    here = _digest(rewritten["store_1"])
    code = (
        "import hashlib, json; from holobench.sources import BundledSource; from holobench.records import Perturbation;"
        "from holobench.perturb import PerturbedSource; db = PerturbedSource(BundledSource(), Perturbation(seed=0))"
        ".open('store_1'); blob = json.dumps({t: db.rows(t) for t in db.tables}, default=str, sort_keys=True);"
        "print(hashlib.sha256(blob.encode('utf-8')).hexdigest())"
    )
    # another interpreter with another string-hash seed: nothing may depend on hash()
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert there.stdout.strip() == here
    other = perturb_database(bundled_dbs["store_1"], Perturbation(seed=1), _sqls(bundled, "store_1"))
    assert _digest(other) != here != _digest(bundled_dbs["store_1"])


# --------------------------------------------------------------------------- faithfulness


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_every_rewritten_row_of_every_bundled_database_is_verbalized_faithfully(
    rewritten: dict[str, Database], db_id: str
) -> None:
    report = check_database(rewritten[db_id])
    assert report.ok, report.missing[:5]
    assert report.total_rows == sum(rewritten[db_id].row_count(t) for t in rewritten[db_id].tables)


# --------------------------------------------------------------------------- gold on SQLite


def gold_on_sqlite(path: Path, inst: Instance) -> list[list[object]]:
    """Only the rows an instance's ``lines`` name, read from a SQLite file, and the original SQL."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = use_reference_round(sqlite3.connect(":memory:"))
    wanted: dict[str, set[int]] = {}
    for x in inst.lines:
        if x.relevant:
            wanted.setdefault(x.table.lower(), set()).add(x.row)
    tree = parse(inst.sql)
    names = {r[0].lower(): r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in {names[t.lower()] for t in tables_used(tree)}:
        ddl = source.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        target.execute(ddl)
        rows = source.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
        keep = [r for i, r in enumerate(rows) if i in wanted.get(table.lower(), set())]
        if keep:
            target.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" for _ in keep[0])})', keep)
    return finish_rows(tree, target.execute(with_tiebreak(tree).sql(dialect="sqlite")).fetchall())


@pytest.fixture(scope="module")
def counterfactual_smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smoke-counterfactual")
    generate_suite(load_suite("smoke-counterfactual"), out)
    return out


def test_gold_of_a_counterfactual_suite_recomputes_on_sqlite_from_the_rematerialised_files(
    counterfactual_smoke: Path, tmp_path: Path
) -> None:
    records = [Instance.model_validate_json(x) for x in (counterfactual_smoke / "instances.jsonl").open()]
    assert len(records) == 36 and all(r.perturbation == Perturbation(seed=0) for r in records)
    files = {}
    for db_id in BUNDLED_IDS:
        files[db_id] = tmp_path / f"{db_id}.sqlite"
        result = CliRunner().invoke(app, ["db", "perturb", db_id, "--seed", "0", "-o", str(files[db_id])])
        assert result.exit_code == 0, result.output
    differ_from_plain = 0
    plain = BundledSource()
    for inst in records:
        assert rows_equal(gold_on_sqlite(files[inst.db_id], inst), inst.gold.rows), inst.query_id
        original = plain.open(inst.db_id).sqlite_path
        assert original is not None
        differ_from_plain += not rows_equal(gold_on_sqlite(original, inst), inst.gold.rows)
    assert differ_from_plain >= 25  # the same rows of the original database mostly answer otherwise
    check = verify_gold(counterfactual_smoke)
    assert check.ok and check.instances == 36


def test_gold_rows_of_a_counterfactual_suite_are_traced_to_their_lines(counterfactual_smoke: Path) -> None:
    """Recall by position (report and viewer) traces gold on the rewritten database: on the
    original one most gold rows would not come back and the instances would go untraced."""
    from holobench.position import compute_carriers

    records = [Instance.model_validate_json(x) for x in (counterfactual_smoke / "instances.jsonl").open()]
    untraced: dict[str, str] = {}
    carriers = compute_carriers(counterfactual_smoke, untraced=untraced)
    assert untraced == {}
    assert carriers.keys() == {r.id for r in records}
    for record in records:
        relevant = {i for i, line in enumerate(record.lines) if line.relevant}
        assert len(carriers[record.id]) == len(record.gold.rows)
        assert all(set(lines) <= relevant for lines in carriers[record.id]), record.id
        if record.gold.rows and relevant:
            assert all(carriers[record.id]), record.id  # every gold row has a carrier


def test_the_audit_reports_what_the_perturbation_changed(counterfactual_smoke: Path, smoke_file: Path) -> None:
    from holobench.scoring.audit import audit_file

    plain, counter = audit_file(smoke_file), audit_file(counterfactual_smoke)
    assert plain.overall.changed_answers is None and "changed_answers" not in json.dumps(
        plain.model_dump(exclude_none=True)
    )
    assert counter.overall.changed_answers is not None and counter.overall.changed_answers >= 0.8
    assert counter.overall.changed_cells is not None and 0 < counter.overall.changed_cells <= 1
    assert {r.group for r in counter.by_category if r.changed_answers is not None} == {
        r.group for r in counter.by_category
    }
    # answerability is as good as without perturbation
    assert counter.overall.empty_gold <= plain.overall.empty_gold
    assert counter.overall.join_non_empty == plain.overall.join_non_empty == 1.0
    result = CliRunner().invoke(app, ["suite", "audit", str(counterfactual_smoke)])
    assert result.exit_code == 0 and "changed_a" in result.output


def test_suites_without_perturb_keep_their_hash_and_the_counterfactual_one_records_it() -> None:
    paper, counter = load_suite("paper"), load_suite("paper-counterfactual")
    assert counter.perturb == Perturbation(seed=0, kinds=("rows", "names", "dates"))
    assert counter.model_copy(update={"perturb": None, "name": "paper", "description": paper.description}) == paper
    dump = paper.model_dump(mode="json")
    dump.pop("perturb")
    blob = json.dumps(dump, sort_keys=True, separators=(",", ":"))
    assert paper.suite_hash() == hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- ad hoc, CLI, errors


def test_an_ad_hoc_perturbed_instance_keeps_its_own_literal_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "one.jsonl"
    sql = "SELECT COUNT(*) FROM customers WHERE city = 'Prague'"
    args = ["generate", "--db", "store_1", "--sql", sql, "--question", "How many customers live in Prague?",
            "--length", "1024", "--amount", "256", "--perturb", "4", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    inst = Instance.model_validate_json(out.read_text(encoding="utf-8"))
    count = inst.gold.rows[0][0]
    assert inst.perturbation == Perturbation(seed=4) and "Prague" in inst.context and isinstance(count, int)
    assert count >= 1
    assert verify_gold(out).ok
    materialised = tmp_path / "store_1.sqlite"
    result = CliRunner().invoke(app, ["db", "perturb", "store_1", "--seed", "4", "--sql", sql, "-o", str(materialised)])
    assert result.exit_code == 0, result.output
    assert rows_equal(gold_on_sqlite(materialised, inst), inst.gold.rows)


def test_bad_kinds_are_one_line_exit_2_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "x.sqlite"
    args = ["db", "perturb", "store_1", "--seed", "1", "--kinds", "rows,colours", "-o", str(target)]
    proc = subprocess.run([sys.executable, "-m", "holobench.cli", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["error: --kinds 'rows,colours': give a comma list of rows, names, dates"]
    assert not list(tmp_path.iterdir())


def test_an_instance_from_another_perturbation_version_is_refused(counterfactual_smoke: Path, tmp_path: Path) -> None:
    line = (counterfactual_smoke / "instances.jsonl").read_text(encoding="utf-8").splitlines()[0]
    record = json.loads(line)
    record["perturbation"]["version"] = 99
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match="perturbation version 99 is not this holobench's"):
        verify_gold(path)


def test_materialise_leaves_nothing_behind_when_it_fails(rewritten: dict[str, Database], tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "db.sqlite"
    with pytest.raises(sqlite3.OperationalError):
        materialise(rewritten["store_1"], target)
    assert not target.parent.exists()


# --------------------------------------------------------------------------- Spider


@pytest.mark.parametrize("db_id", ["college_2", "flight_4", "store_1", "wine_1"])
def test_spider_databases_rewrite_faithfully_with_keys_kept(spider: SpiderSource, db_id: str, tmp_path: Path) -> None:
    original = spider.open(db_id)
    new = perturbed(spider, Perturbation(seed=2)).open(db_id)
    keys = key_columns(original.schemas)
    for schema in original.schemas:
        for j, col in enumerate(schema.columns):
            if col.name in keys[schema.name]:
                assert [r[j] for r in new.rows(schema.name)] == [r[j] for r in original.rows(schema.name)]
    assert _digest(new) != _digest(original)
    assert check_database(new).ok
    materialise(new, tmp_path / "db.sqlite")
    with sqlite3.connect(tmp_path / "db.sqlite") as con:
        for table in new.tables:
            assert con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == new.row_count(table)


def test_spider_gold_on_a_perturbed_instance_recomputes_on_sqlite(spider: SpiderSource, tmp_path: Path) -> None:
    from holobench.context import InstanceBuilder
    from holobench.records import Category, Difficulty, Query
    from holobench.tokenizers import get_tokenizer

    sql = "SELECT Grape, COUNT(*) FROM wine WHERE Price > 40 GROUP BY Grape ORDER BY COUNT(*) DESC LIMIT 3"
    perturbation = Perturbation(seed=9)
    db = perturbed(spider, perturbation, [sql]).open("wine_1")
    builder = InstanceBuilder(db, get_tokenizer(), source="spider:x", perturbation=perturbation)
    query = Query(id="q", db_id="wine_1", question="?", sql=sql, categories=(Category.AGGREGATION,),
                  difficulty=Difficulty.MEDIUM)  # fmt: skip
    inst = builder.build(query, 1024, placement="uniform", seed=0, amount=512)
    assert inst.perturbation == perturbation and inst.gold.rows
    materialise(db, tmp_path / "wine_1.sqlite")
    assert rows_equal(gold_on_sqlite(tmp_path / "wine_1.sqlite", inst), inst.gold.rows)


def test_dates_shift_by_whole_days_either_way() -> None:
    offsets = {date_offset(seed, "db").days for seed in range(50)}
    assert all(30 <= abs(d) <= 400 for d in offsets) and min(offsets) < 0 < max(offsets)
    assert isinstance(date_offset(0, "db"), dt.timedelta)


# --------------------------------------------------------------------------- the closed-book report


def test_the_closed_book_report_pairs_runs_on_the_same_data_and_says_which(
    counterfactual_smoke: Path, smoke_file: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from holobench.report import write_report
    from holobench.scoring.run import read_scores
    from holobench.scoring.score import score_match

    from .scoring_helpers import write_run
    from .test_closed_book import _as_closed

    runs = []
    for name, instances in (("orig", smoke_file), ("cf", counterfactual_smoke / "instances.jsonl")):
        opened = write_run(tmp_path / f"{name}-open", instances, quality=2)
        closed = _as_closed(write_run(tmp_path / f"{name}-closed", instances, quality=4))
        runs += [opened, closed]
    for folder in runs:
        score_match(smoke_file if "orig" in folder.parent.name else counterfactual_smoke / "instances.jsonl", folder)
    flags = [{r.counterfactual for r in read_scores(f / "scores" / "match" / "scores.jsonl")} for f in runs]
    assert flags == [{False}, {False}, {True}, {True}]
    summary = write_report(runs, tmp_path / "report", n_boot=50, position=False)
    table = pd.read_csv(tmp_path / "report" / "tables" / "closed_book.csv")
    pooled = table[table["category"] == "all"]
    assert sorted(pooled["data"]) == ["counterfactual", "original"]
    assert (pooled["n"] > 0).all() and not summary["closed_book"]["notes"]  # each closed run found its partner
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| counterfactual |" in markdown and "| original |" in markdown


def test_a_perturbed_instance_round_trips_through_the_parquet_export(counterfactual_smoke: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    from holobench.export.schema import arrow_schema, from_row, to_row

    records = [Instance.model_validate_json(x) for x in (counterfactual_smoke / "instances.jsonl").open()][:4]
    table = pa.Table.from_pylist([to_row(r, i) for i, r in enumerate(records)], schema=arrow_schema())
    assert [from_row(row) for row in table.to_pylist()] == records


def test_generate_perturb_gives_any_suite_a_seed(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--suite", "smoke", "--perturb", "3", "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["suite"]["perturb"] == {"seed": 3, "kinds": ["rows", "names", "dates"], "version": 1}
    assert manifest["audit"]["overall"]["changed_answers"] is not None
    records = [Instance.model_validate_json(x) for x in (tmp_path / "s" / "instances.jsonl").open()]
    assert len(records) == 36 and {r.perturbation for r in records} == {Perturbation(seed=3)}
