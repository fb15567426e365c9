"""The ``holobench`` command line: every command's help, and each command on real sources."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from holobench import cli
from holobench.cli import app
from holobench.errors import HoloBenchError, QueryError, SourceError
from holobench.records import Category
from holobench.sources import open_source
from holobench.sources.bundled import data_root, queries_root

ROOT = Path(__file__).resolve().parents[2]
SPIDER = ROOT.parent / "shared" / "spider"
HUB = ROOT / "tests" / "fixtures" / "hub"
BUNDLED_IDS = ["baseball", "nycflights", "store_1"]
ORDER = [c.value for c in Category]

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables would otherwise be cut to 80 columns (ids shortened with an ellipsis)."""
    monkeypatch.setattr(cli.out, "_width", 400)


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    return result.output


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table in ``output``, as lists of stripped cells."""
    return [[c.strip() for c in line.strip().strip("│").split("│")] for line in output.splitlines() if "│" in line]


def sqlite_counts(path: Path) -> tuple[int, int]:
    """(tables, rows) of a SQLite file, counted with sqlite3 itself."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        rows = sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
    finally:
        con.close()
    return len(tables), rows


def need_spider() -> None:
    if not (SPIDER / "database").is_dir():
        pytest.skip(f"{SPIDER} is absent: the real Spider databases are not available here")


def holobench_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "holobench"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "holobench.cli"]


# --------------------------------------------------------------------------- help


COMMANDS = {
    (): ["db", "verbalize", "queries"],
    ("db",): ["list", "show"],
    ("verbalize",): ["check", "show", "llm"],
    ("queries",): ["list", "validate"],
    ("db", "list"): ["--source"],
    ("db", "show"): ["--source", "--templates", "db_id"],
    ("verbalize", "check"): ["--all", "--source", "--limit"],
    ("verbalize", "show"): ["--rows", "--start", "table"],
    ("verbalize", "llm"): ["--model", "--out", "--base-url", "--api-key-env", "--table", "--strict"],
    ("queries", "list"): ["--source", "db_id"],
    ("queries", "validate"): ["--source", "--verbose", "files"],
    ("export",): ["--format", "--out", "hf", "jsonl", "lm-eval"],
}


@pytest.mark.parametrize("command", list(COMMANDS), ids=lambda c: " ".join(c) or "holobench")
def test_help(command: tuple[str, ...]) -> None:
    output = ok(*command, "--help")
    assert "Usage" in output
    for word in COMMANDS[command]:
        assert word in output, f"{word!r} missing from the help of {' '.join(command)}"


@pytest.mark.parametrize("group", ["db", "verbalize", "queries"])
def test_group_without_a_command_shows_help(group: str) -> None:
    result = invoke(group)
    assert "Usage" in result.output
    for sub in COMMANDS[(group,)]:
        assert sub in result.output


# --------------------------------------------------------------------------- db


def test_db_list_bundled() -> None:
    output = ok("db", "list")
    assert "databases in bundled" in output
    rows = {r[0]: r[1:] for r in table_rows(output)}
    assert sorted(rows) == BUNDLED_IDS
    for db_id in BUNDLED_IDS:
        tables, total = sqlite_counts(data_root() / db_id / f"{db_id}.sqlite")
        n_queries = len(yaml.safe_load((queries_root() / f"{db_id}.yaml").read_text())["queries"])
        assert rows[db_id] == [str(tables), f"{total:,}", str(n_queries)]


def test_db_list_spider() -> None:
    need_spider()
    output = ok("db", "list", "--source", f"spider:{SPIDER}")
    rows = {r[0]: r[1:] for r in table_rows(output)}
    assert sorted(rows) == ["college_2", "flight_4", "store_1", "wine_1"]
    for db_id, cells in rows.items():
        tables, total = sqlite_counts(SPIDER / "database" / db_id / f"{db_id}.sqlite")
        assert cells == [str(tables), f"{total:,}", "0"]
    assert rows["wine_1"] == ["3", "577", "0"]


def test_db_list_hub() -> None:
    output = ok("db", "list", "-s", f"hub:{HUB}")
    assert table_rows(output) == [["wine_mini", "3", "16", "4"]]  # the queries config is not a database


def test_db_show_store_1() -> None:
    output = ok("db", "show", "store_1")
    db = open_source("bundled").open("store_1")
    assert output.splitlines()[0] == "store_1 from bundled: 11 tables"
    lines = [line.strip() for line in output.splitlines()]
    assert "invoices (412 rows; template:invoices.j2)" in lines
    assert "primary key: playlist_id, track_id" in lines
    assert "foreign key: customer_id -> customers.id" in lines
    assert any(line.startswith("columns: id BIGINT, customer_id BIGINT, invoice_date TIMESTAMP,") for line in lines)
    assert "columns: id BIGINT, invoice_id BIGINT, track_id BIGINT, unit_price DOUBLE, quantity BIGINT" in lines
    assert f"e.g. {db.verbalize('invoices', 0)}" in lines
    assert f"e.g. {db.verbalize('customers', 0)}" in lines
    assert "note:" not in output


def test_db_show_spider_prints_notes() -> None:
    need_spider()
    output = ok("db", "show", "store_1", "--source", f"spider:{SPIDER}")
    assert "(3,503 rows; generic)" in output
    assert "note: tables.json lists SQLite's internal table 'sqlite_sequence'" in output


def test_db_show_hub() -> None:
    output = ok("db", "show", "wine_mini", "--source", f"hub:{HUB}")
    assert f"wine_mini from hub:{HUB}: 3 tables" in output
    assert "wine (8 rows; stored)" in output
    assert "columns: id BIGINT, label VARCHAR, weight DOUBLE" in output
    assert "e.g. The grape variety with ID 1 is Barbera, and its color is Red." in output


def test_db_show_unknown_database() -> None:
    result = invoke("db", "show", "nope")
    assert result.exit_code != 0
    assert isinstance(result.exception, SourceError)
    assert "'nope'" in str(result.exception)


def test_error_prints_one_line_to_stderr_with_exit_code_2() -> None:
    proc = subprocess.run(
        [*holobench_command(), "db", "show", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == "error: bundled: no database 'nope'; available: baseball, nycflights, store_1"
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- verbalize


def test_verbalize_check_store_1() -> None:
    output = ok("verbalize", "check", "store_1")
    tables, total = sqlite_counts(data_root() / "store_1" / "store_1.sqlite")
    assert output.strip() == f"bundled store_1: {total:,} rows in {tables} tables checked: ok"


def test_verbalize_check_all_spider() -> None:
    need_spider()
    output = ok("verbalize", "check", "--all", "--source", f"spider:{SPIDER}")
    lines = output.strip().splitlines()
    assert len(lines) == 4
    for line, db_id in zip(lines, ["college_2", "flight_4", "store_1", "wine_1"], strict=True):
        tables, total = sqlite_counts(SPIDER / "database" / db_id / f"{db_id}.sqlite")
        assert line == f"spider:{SPIDER} {db_id}: {total:,} rows in {tables} tables checked: ok"


def test_verbalize_check_hub() -> None:
    output = ok("verbalize", "check", "--all", "--source", f"hub:{HUB}")
    assert output.strip() == f"hub:{HUB} wine_mini: 16 rows in 3 tables checked: ok"


def test_verbalize_check_reports_dropped_values(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    (folder / "templates").mkdir(parents=True)
    (folder / "items.csv").write_text("id,name,price\n1,apple,0.25\n2,fig,3.5\n3,kiwi,\n", encoding="utf-8")
    (folder / "templates" / "items.j2").write_text("Item {{ id }} is a {{ name }}.", encoding="utf-8")
    result = invoke("verbalize", "check", "shop", "--source", f"files:{folder}", "--limit", "1")
    assert result.exit_code == 1
    assert "3 rows in 1 tables checked: 2 missing values" in result.output
    assert "items row 0: column 'price' value 0.25 not found in: Item 1 is a apple." in result.output
    assert "... and 1 more" in result.output
    assert "kiwi" not in result.output  # a NULL price is not a dropped value


def test_verbalize_check_needs_an_id_or_all() -> None:
    result = invoke("verbalize", "check")
    assert isinstance(result.exception, HoloBenchError)
    assert "--all" in str(result.exception)


def test_verbalize_show() -> None:
    output = ok("verbalize", "show", "store_1", "tracks", "-n", "3", "--start", "2")
    sentences = open_source("bundled").open("store_1").sentences("tracks")
    lines = output.splitlines()
    assert len(lines) == 3
    for line, i in zip(lines, [2, 3, 4], strict=True):
        index, sentence = line.split(None, 1)
        assert (int(index), sentence) == (i, sentences[i])


def test_verbalize_show_hub_prints_the_stored_sentences() -> None:
    output = ok("verbalize", "show", "wine_mini", "wine", "--source", f"hub:{HUB}", "--rows", "10")
    lines = output.splitlines()
    assert len(lines) == 8
    assert lines[2].split(None, 1)[1].startswith("Wine number 3 is the 2007 Barbera named Cobb Vineyard")
    assert "the number of cases made is not recorded" in lines[2]


def test_verbalize_show_unknown_table() -> None:
    result = invoke("verbalize", "show", "store_1", "songs")
    assert isinstance(result.exception, SourceError)
    assert "'songs'" in str(result.exception)


def test_verbalize_show_prints_square_brackets_literally(tmp_path: Path) -> None:
    folder = tmp_path / "marks"
    folder.mkdir()
    (folder / "items.csv").write_text("id,name\n1,plain [i]italic\n2,close [/x] tag\n", encoding="utf-8")
    result = invoke("verbalize", "show", "marks", "items", "--source", f"files:{folder}")
    assert result.exit_code == 0, result.exception
    assert "plain [i]italic" in result.output
    assert "close [/x] tag" in result.output


# --------------------------------------------------------------------------- queries


def test_queries_list_store_1() -> None:
    output = ok("queries", "list", "store_1")
    expected = yaml.safe_load((queries_root() / "store_1.yaml").read_text())["queries"]
    lines = output.splitlines()
    assert len(lines) == len(expected)
    for line, q in zip(lines, expected, strict=True):
        qid, difficulty, categories, question = re.split(r"\s+", line, maxsplit=3)
        assert (qid, difficulty, question) == (q["id"], q["difficulty"], " ".join(q["question"].split()))
        assert categories == "/".join(sorted(q["categories"], key=ORDER.index))
    assert lines[0].split()[:3] == ["store_1-q001", "easy", "Aggregation/Comparison"]


def test_queries_list_hub() -> None:
    output = ok("queries", "list", "wine_mini", "--source", f"hub:{HUB}")
    parsed = [re.split(r"\s+", line, maxsplit=3) for line in output.splitlines()]
    assert [p[:3] for p in parsed] == [
        ["wine_mini-hub000", "easy", "Aggregation/Comparison"],
        ["wine_mini-hub001", "medium", "Ranking"],
        ["wine_mini-hub002", "hard", "Aggregation/Join"],
        ["wine_mini-hub003", "hard", "Max/Min"],
    ]
    assert parsed[3][3] == "What is the name of the wine with the highest score?"


def test_queries_validate_bundled() -> None:
    output = ok("queries", "validate")
    for db_id in BUNDLED_IDS:
        n = len(yaml.safe_load((queries_root() / f"{db_id}.yaml").read_text())["queries"])
        assert f"{queries_root() / db_id}.yaml: {n} queries, {n} ok, 0 failing" in output
    assert output.splitlines()[-1].startswith("categories: Aggregation ")


BAD_CATEGORY = """\
db_id: store_1
queries:
  - id: store_1-q001
    question: "How many tracks are there?"
    sql: SELECT COUNT(*) FROM tracks
    categories: [Aggregation]
    difficulty: easy
  - id: store_1-bad002
    question: "How many tracks are there?"
    sql: SELECT COUNT(*) FROM tracks
    categories: [Aggregation, Sorting]
    difficulty: easy
"""

BAD_COLUMN = """\
db_id: store_1
queries:
  - id: store_1-good001
    question: "How many tracks are there?"
    sql: SELECT COUNT(*) FROM tracks
    categories: [Aggregation]
    difficulty: easy
  - id: store_1-bad002
    question: "How many tracks are longer than 5 minutes?"
    sql: SELECT COUNT(*) FROM tracks WHERE no_such_column > 300000
    categories: [Aggregation, Comparison]
    difficulty: easy
"""


def test_queries_validate_bad_file_names_file_and_query(tmp_path: Path) -> None:
    path = tmp_path / "store_1.yaml"
    path.write_text(BAD_CATEGORY, encoding="utf-8")
    result = invoke("queries", "validate", str(path))
    assert result.exit_code != 0
    assert isinstance(result.exception, QueryError)
    message = str(result.exception)
    assert "\n" not in message
    assert message.startswith(f"{path}: query store_1-bad002: field 'categories.1'")


def test_queries_validate_bad_file_from_the_shell(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("db_id: store_1\nqueries:\n  - id: q1\n    question: [unclosed\n", encoding="utf-8")
    proc = subprocess.run(
        [*holobench_command(), "queries", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {path}: line ")
    assert "malformed YAML" in lines[0]


def test_queries_validate_failing_query(tmp_path: Path) -> None:
    path = tmp_path / "store_1.yaml"
    path.write_text(BAD_COLUMN, encoding="utf-8")
    result = invoke("queries", "validate", str(path))
    assert result.exit_code == 1
    assert f"{path}: 2 queries, 1 ok, 1 failing" in result.output
    failing = [r for r in table_rows(result.output) if r[0] == "store_1-bad002"]
    assert len(failing) == 1
    assert "no_such_column" in failing[0][-1]
    assert "store_1-good001" not in result.output  # only failures without --verbose


WINE_QUERIES = """\
db_id: wine_mini
queries:
  - id: wine_mini-q001
    question: "How many wines cost more than 40 dollars?"
    sql: SELECT COUNT(*) FROM wine WHERE Price > 40
    categories: [Aggregation, Comparison]
    difficulty: easy
  - id: wine_mini-q002
    question: "What is the average price of wines for each grape color?"
    sql: SELECT T2.Color, AVG(T1.Price) FROM wine AS T1 JOIN grapes AS T2 ON T1.Grape = T2.Grape GROUP BY T2.Color
    categories: [Aggregation, Join]
    difficulty: medium
  - id: wine_mini-q003
    question: "Which wine has the highest score?"
    sql: SELECT Name FROM wine WHERE Score = (SELECT MAX(Score) FROM wine)
    categories: [Max/Min]
    difficulty: medium
"""


def test_queries_validate_against_the_hub_source(tmp_path: Path) -> None:
    path = tmp_path / "wine_mini.yaml"
    path.write_text(WINE_QUERIES, encoding="utf-8")
    output = ok("queries", "validate", str(path), "--source", f"hub:{HUB}", "--verbose")
    assert f"{path}: 3 queries, 3 ok, 0 failing" in output
    rows = {r[0]: r for r in table_rows(output)}
    assert sorted(rows) == ["wine_mini-q001", "wine_mini-q002", "wine_mini-q003"]
    assert rows["wine_mini-q002"][4] == "wine, grapes"
    assert rows["wine_mini-q002"][5] == "2"
    assert all(r[-1] == "ok" for r in rows.values())
    assert output.splitlines()[-1] == "categories: Aggregation 2, Comparison 1, Join 1, Max/Min 1"


def test_queries_validate_wrong_database_for_the_source(tmp_path: Path) -> None:
    path = tmp_path / "store_1.yaml"
    path.write_text(BAD_COLUMN, encoding="utf-8")
    result = invoke("queries", "validate", str(path), "--source", f"hub:{HUB}")
    assert isinstance(result.exception, SourceError)
    assert "'store_1'" in str(result.exception) and "wine_mini" in str(result.exception)


def test_queries_validate_non_bundled_source_needs_files() -> None:
    result = invoke("queries", "validate", "--source", f"hub:{HUB}")
    assert isinstance(result.exception, HoloBenchError)
    assert "query files" in str(result.exception)


def test_unknown_source_kind() -> None:
    result = invoke("db", "list", "--source", "mysql:db")
    assert isinstance(result.exception, SourceError)
    assert "bundled, spider, hub, sqlite, duckdb, files" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "expected", "absent"),
    [
        (
            [],
            [
                "--backend llamacpp --prompt fewshot",
                "--option prefix_cache=true",
                "results/runs/smoke/llamacpp-default-fewshot",
                "--max-tokens 96",
                "--backend no-answer",
                "leaderboard build",
                "How to read this",
                "Gemma 3 270M",
            ],
            ["--base-url"],
        ),
        (
            ["MODEL=my.gguf"],
            ["--backend llamacpp --prompt auto", "--model 'my.gguf'"],
            ["Gemma 3 270M", "prefix_cache"],
        ),
        (
            ["MODEL=org/m", "BASE_URL=http://127.0.0.1:9/v1"],
            ["--backend openai", "--model 'org/m'", "--base-url 'http://127.0.0.1:9/v1'", "--max-tokens 1024"],
            ["--backend llamacpp"],
        ),
        (
            ["BACKEND=vllm", "MODEL=Qwen/Qwen3-8B", "SUITE=paper"],
            [
                "--require-hashes --no-deps -r requirements/vllm.txt",
                "--suite paper",
                "--backend vllm",
                "results/runs/paper/vllm-Qwen_Qwen3-8B-cot",
            ],
            ["--base-url"],
        ),
    ],
)
def test_make_bench_variables_pick_the_backend(args: list[str], expected: list[str], absent: list[str]) -> None:
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]
    # Variables of an enclosing `make test MODEL=...` must not leak in through MAKEFLAGS.
    bench_vars = {"MODEL", "BASE_URL", "BACKEND", "SUITE", "PROMPT", "MAX_TOKENS", "CONCURRENCY", "RESULTS", "RUN_NAME"}
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", *bench_vars}}
    plan = subprocess.run(
        ["make", "-n", "bench", *args], cwd=root, capture_output=True, text=True, check=True, env=env
    ).stdout
    for text in expected:
        assert text in plan, text
    for text in absent:
        assert text not in plan, text


# --------------------------------------------------------------------------- options checked up front

ADHOC = ["generate", "--db", "store_1", "--sql", "SELECT COUNT(*) FROM tracks", "--question", "?", "-o", "x.jsonl"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*ADHOC, "--density", "nan"], "--density nan: give a number above 0 and at most 1"),
        ([*ADHOC, "--density", "1.5"], "--density 1.5: give a number above 0 and at most 1"),
        ([*ADHOC, "--placement", "centre"], "--placement 'centre': use one of begin, end, middle"),
        ([*ADHOC, "--length", "0"], "--length 0: give a number at least 1"),
        ([*ADHOC, "--positives", "0"], "--positives 0.0: give a number above 0 and at most 1"),
        (
            ["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--concurrency", "0"],
            "--concurrency 0",
        ),
        (
            ["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--max-tokens", "-5"],
            "--max-tokens -5",
        ),
        (["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--timeout", "0"], "--timeout 0.0"),
        (
            ["run", "--instances", "i.jsonl", "--backend", "no-answer", "-o", "r", "--temperature", "nan"],
            "--temperature nan",
        ),
        (["score", "--instances", "i.jsonl", "--predictions", "r", "--rel-tol", "nan"], "--rel-tol nan"),
        (["report", "r", "-o", "out", "--resamples", "0"], "--resamples 0"),
    ],
)
def test_bad_option_values_are_one_clear_error_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert isinstance(result.exception, HoloBenchError), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert list(tmp_path.iterdir()) == []  # nothing written
