"""Suites: file format, grid expansion, streaming output, manifest, determinism, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from holobench.cli import app
from holobench.errors import HoloBenchError
from holobench.suite import Suite, generate_suite, load_suite, parse_length

SMALL = """
name: tiny
databases: [store_1, baseball]
queries:
  categories: [Max/Min]
lengths: [1k, 1500]
settings:
  - amount: 400
  - density: 0.3
placements: [begin, bimodal]
seeds: [0, 1]
"""


def _suite(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_suites_load() -> None:
    paper = load_suite("paper")
    assert paper.lengths == (4096, 8192, 16384, 32768, 65536)
    assert [s.model_dump(exclude_none=True) for s in paper.settings] == [{"amount": 2048}, {"density": 0.5}]
    assert [p.value for p in paper.placements] == ["uniform", "begin", "end", "middle", "bimodal"]
    assert load_suite("smoke").name == "smoke"


def test_lengths_accept_k_suffix() -> None:
    assert parse_length("4k") == 4096 and parse_length(" 512 ") == 512 and parse_length(300) == 300
    with pytest.raises(ValueError):
        parse_length("four")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nlengths: []\nsettings: [{amount: 10}]\nplacements: [begin]\n", "lengths"),
        ("name: x\nlengths: [100]\nsettings: [{amount: 10, density: 0.5}]\nplacements: [begin]\n", "exactly one"),
        ("name: x\nlengths: [100]\nsettings: [{amount: 10}]\nplacements: [sideways]\n", "placements"),
        ("name: x\nlengths: [100]\nsettings: [{amount: 10}]\nplacements: [begin]\ncolour: red\n", "colour"),
        ("name: [unclosed\n", "malformed YAML"),
    ],
)
def test_bad_suites_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = _suite(tmp_path, text)
    with pytest.raises(HoloBenchError, match=message) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_generate_streams_the_grid_with_a_manifest(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path))
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    manifest = generate_suite(suite, out, parquet=True, progress=lambda d, t: seen.append((d, t)))
    records = [json.loads(x) for x in (out / "instances.jsonl").read_text(encoding="utf-8").splitlines()]
    expected = manifest["grid_size"]
    assert expected == len(seen) and seen[-1] == (expected, expected)
    assert len(records) + len(manifest["skipped"]) == expected
    assert manifest["instances"] == len(records) and manifest["suite_hash"] == suite.suite_hash()
    assert {r["db_id"] for r in records} == {"store_1", "baseball"}
    assert all("Max/Min" in r["categories"] for r in records)
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        config = r["config"]
        assert ("info_amount" in config) != ("info_density" in config)
        assert r["stats"]["tokens"] <= config["target_tokens"]
        assert set(r) >= {"id", "db_id", "query_id", "question", "sql", "categories", "context", "gold", "lines"}
        assert set(r["gold"]) == {"columns", "rows"}
        assert all(set(x) <= {"table", "row", "relevant", "db", "answer"} for x in r["lines"])
    assert (out / "instances.parquet").stat().st_size > 0
    assert not list(out.glob("*.tmp"))
    import duckdb

    assert duckdb.sql(f"SELECT count(*) FROM '{out / 'instances.parquet'}'").fetchall() == [(len(records),)]


def test_same_suite_same_bytes(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path))
    a = generate_suite(suite, tmp_path / "a")
    b = generate_suite(suite, tmp_path / "b")
    assert (tmp_path / "a" / "instances.jsonl").read_bytes() == (tmp_path / "b" / "instances.jsonl").read_bytes()
    assert a == b


def test_unreachable_cells_are_listed_not_fatal(tmp_path: Path) -> None:
    suite = Suite.model_validate(
        {
            "name": "too-long",
            "databases": ["store_1"],
            "queries": {"ids": ["store_1-q001"]},
            "fillers": "none",
            "lengths": [1024, 10_000_000],
            "settings": [{"amount": 256}],
            "placements": ["end"],
        }
    )
    manifest = generate_suite(suite, tmp_path / "o")
    assert manifest["instances"] == 1 and len(manifest["skipped"]) == 1
    assert "cannot fill 10000000 tokens" in manifest["skipped"][0]["reason"]


def test_cli_generate_suite_and_ad_hoc(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--suite", str(_suite(tmp_path)), "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "manifest.json").is_file()
    out = tmp_path / "one.jsonl"
    args = [
        "generate", "--db", "store_1", "--sql", "SELECT COUNT(*) FROM tracks WHERE milliseconds > 300000",
        "--question", "How many tracks are longer than 5 minutes?", "--length", "2048", "--amount", "1024",
        "--placement", "middle", "--seed", "0", "--tokenizer", "o200k_base", "-o", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["config"]["placement"] == "middle" and record["stats"]["tokens"] <= 2048
    result = runner.invoke(app, [*args[:-2], "--density", "0.5", "-o", str(out)])
    assert result.exit_code != 0  # --amount and --density together


def test_cli_ad_hoc_on_every_spider_database(spider: object, tmp_path: Path) -> None:
    runner = CliRunner()
    root = Path(__file__).resolve().parents[1].parent / "shared" / "spider"
    cases = {
        "wine_1": "SELECT Name FROM wine WHERE Score > 95",
        "store_1": "SELECT COUNT(*) FROM invoices WHERE total > 10",
        "college_2": "SELECT name FROM instructor ORDER BY salary DESC LIMIT 3",
        "flight_4": "SELECT COUNT(*) FROM airlines WHERE active = 'Y'",
    }
    for db_id, sql in cases.items():
        out = tmp_path / f"{db_id}.jsonl"
        result = runner.invoke(
            app,
            ["generate", "--source", f"spider:{root}", "--db", db_id, "--sql", sql, "--question", "?",
             "--length", "4096", "--amount", "2048", "--placement", "middle", "--seed", "0", "-o", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, (db_id, result.output)
        record = json.loads(out.read_text(encoding="utf-8"))
        assert record["db_id"] == db_id and record["gold"]["rows"]


def test_worker_processes_give_the_same_bytes(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path))
    one = generate_suite(suite, tmp_path / "one", workers=1)
    two = generate_suite(suite, tmp_path / "two", workers=2)
    assert (tmp_path / "one" / "instances.jsonl").read_bytes() == (tmp_path / "two" / "instances.jsonl").read_bytes()
    assert one == two


def test_every_gold_of_the_smoke_suite_recomputes_in_sqlite(tmp_path: Path) -> None:
    from holobench.oracle import rows_equal
    from holobench.records import Instance
    from holobench.sources import BundledSource

    from .test_context import recompute_gold_in_sqlite

    generate_suite(load_suite("smoke"), tmp_path)
    src = BundledSource()
    dbs = {d: src.open(d) for d in src.list_databases()}
    lines = (tmp_path / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 36
    for line in lines:
        inst = Instance.model_validate_json(line)
        assert rows_equal(recompute_gold_in_sqlite(dbs[inst.db_id], inst), inst.gold.rows), inst.query_id


def test_paper_official_suite_is_the_paper_protocol() -> None:
    official, ours = load_suite("paper-official"), load_suite("paper")
    assert official.source.startswith("hub:megagonlabs/holobench@")
    assert official.sampling == "uniform" and official.unanswerable == 0
    assert (official.lengths, official.settings, official.placements) == (ours.lengths, ours.settings, ours.placements)
    assert ours.sampling == "answerable" and ours.unanswerable == 0.1


def test_a_suite_naming_an_unknown_query_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: typo\nqueries:\n  ids: [store_1-q001, store_1-q999]\nlengths: [1k]\nsettings: [{amount: 256}]\n"
        "placements: [begin]\n",
        encoding="utf-8",
    )
    with pytest.raises(HoloBenchError, match=r"query id\(s\) store_1-q999 not among"):
        generate_suite(load_suite(path), tmp_path / "out")
    assert not (tmp_path / "out" / "instances.jsonl").exists()


def test_duplicate_instance_ids_are_refused_by_run_and_score(tmp_path: Path, smoke_file: Path) -> None:
    import asyncio

    from holobench.backends import BackendOptions
    from holobench.runner import RunConfig, Runner
    from holobench.scoring import score_match

    lines = smoke_file.read_text(encoding="utf-8").splitlines()
    doubled = tmp_path / "instances.jsonl"
    doubled.write_text("\n".join([*lines, lines[0]]) + "\n", encoding="utf-8")
    cfg = RunConfig(backend="no-answer", options=BackendOptions(), cache_dir=None)
    with pytest.raises(HoloBenchError, match=r"instances\.jsonl:37: instance id .* appears twice"):
        asyncio.run(Runner(doubled, tmp_path / "run", cfg).run())
    run = tmp_path / "ok-run"
    asyncio.run(Runner(smoke_file, run, cfg).run())
    (run / "manifest.json").unlink()  # score the predictions against the doubled file
    with pytest.raises(HoloBenchError, match="appears twice"):
        score_match(doubled, run / "predictions.jsonl")
