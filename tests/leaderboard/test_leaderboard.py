"""The static leaderboard: built from packed submissions, then opened in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from holobench.aggregate import SEED, Run
from holobench.errors import HoloBenchError
from holobench.leaderboard import NOT_SEPARABLE, build
from holobench.paired import pair_seed, paired_difference
from holobench.scoring.score import score_match
from holobench.submit import pack, validate

from ..conftest import ARTIFACTS, browse
from ..scoring_helpers import write_run

#: A display label as long as real ones get (model, quantisation, prompt), to test the page's width.
LONG_LABEL = "middle twin: a long display label that names the model, its quantisation and its prompt in full"


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class _Rows(HTMLParser):
    """The ranking table's rows as the browser left them: [(rank, model, score)]."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.sorted: str | None = None
        self._in_ranking = False
        self._in_body = False
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "ranking":
            self.sorted = a.get("data-sorted")
            self._in_ranking = True
        if tag == "tbody" and self._in_ranking:
            self._in_body = True
        if tag == "tr" and self._in_body:
            self.rows.append({})
        if tag == "td" and self._in_body and self.rows:
            self.rows[-1][a.get("data-key") or ""] = a.get("data-value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._in_ranking = False


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory, smoke_file: Path) -> list[Path]:
    """Three models of different quality, and a twin of the middle one (same answers, long label)."""
    root = tmp_path_factory.mktemp("subs")
    out = []
    for model, quality, suffix, label in [
        ("weak <model>", 2, ".zip", None),
        ("strong-model", 4, ".tar.gz", None),
        ("middle", 3, "", None),
        ("middle-twin", 3, "-twin", LONG_LABEL),
    ]:
        run = write_run(root, smoke_file, model=model, quality=quality)
        score_match(smoke_file, run)
        where = root / f"{quality}{suffix or '-dir'}"
        out.append(pack(run, run / "scores" / "match", where, suite="smoke", label=label))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, submissions: list[Path], smoke_file: Path) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build(submissions, out, instances=smoke_file)
    return out


def test_site_ranks_entries_by_score(site: Path) -> None:
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    scores = [e["score"] for e in board["entries"]]
    assert scores == sorted(scores, reverse=True)
    assert [e["rank"] for e in board["entries"]] == [1, 2, 3, 4]
    for e in board["entries"]:
        assert (site / e["page"]).is_file()
        low, high = (float(x) for x in e["ci"].split(", "))
        assert low <= e["score"] <= high
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "weak &lt;model&gt;" in html and "weak <model>" not in html  # submissions are escaped
    assert (site / "plots" / "score_by_placement.png").is_file()


def test_build_refuses_mixed_suites_and_invalid_submissions(tmp_path: Path, submissions: list[Path]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(submissions[2], broken)
    (broken / "scores.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match=r"scores\.jsonl"):
        build([submissions[0], broken], tmp_path / "site")
    assert not (tmp_path / "site").exists()
    other = tmp_path / "other"
    shutil.copytree(submissions[2], other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["instances_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(HoloBenchError, match="another suite"):
        build([submissions[0], other], tmp_path / "site")


def test_leaderboard_renders_and_sorts_in_chromium(site: Path, chromium: str) -> None:
    index = (site / "index.html").resolve()
    parser = _Rows()
    parser.feed(_headless(chromium, "--dump-dom", index.as_uri()).stdout)
    assert parser.sorted == "rank:asc"
    assert [r["rank"] for r in parser.rows] == ["1", "2", "3", "4"]
    assert parser.rows[0]["model"] == "strong-model"
    assert all(re.fullmatch(r"[01](\.\d+)?", r["score"]) for r in parser.rows)

    parser = _Rows()
    parser.feed(_headless(chromium, "--dump-dom", index.as_uri() + "?sort=model&dir=asc").stdout)
    assert parser.sorted == "model:asc"
    assert [r["model"] for r in parser.rows] == sorted(r["model"] for r in parser.rows)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "leaderboard.png"
    shot.unlink(missing_ok=True)
    _headless(chromium, f"--screenshot={shot}", "--window-size=1400,900", index.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_paired_differences_rank_neighbours_and_match_a_recomputation(
    site: Path, submissions: list[Path], smoke_file: Path
) -> None:
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    entries, pairs = board["entries"], board["paired"]["pairs"]
    assert [(p["a_rank"], p["b_rank"]) for p in pairs] == [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]
    assert board["paired"]["skipped"] == [] and "paired cluster-bootstrap" in board["paired"]["method"]
    assert entries[0]["separable_from_above"] is None
    by_ranks = {(p["a_rank"], p["b_rank"]): p for p in pairs}
    for e in entries[1:]:
        assert e["separable_from_above"] == by_ranks[(e["rank"] - 1, e["rank"])]["separable"]
    twin = next(e for e in entries if e["label"] == LONG_LABEL)
    assert twin["separable_from_above"] is False  # the same answers as "middle", ranked right above it
    assert by_ranks[(1, 2)]["separable"] and by_ranks[(1, 2)]["ci_low"] > 0  # strong vs middle

    runs = {s.manifest.label: Run(s.manifest.label, s.scores) for s in (validate(p, smoke_file) for p in submissions)}
    for p in pairs:
        again = paired_difference(runs[p["a"]], runs[p["b"]], seed=pair_seed(SEED, p["a"], p["b"]))
        assert {k: v for k, v in p.items() if k not in ("a_rank", "b_rank")} == again.model_dump()

    html = (site / "index.html").read_text(encoding="utf-8")
    marks = re.findall(r'<span class="tie" title="([^"]*)"', html)
    assert len(marks) == sum(e["separable_from_above"] is False for e in entries) >= 1
    assert all(m.startswith(NOT_SEPARABLE + " (#") for m in marks)
    assert f"{NOT_SEPARABLE}." in html and 'id="paired"' in html  # the legend line and the matrix


def test_leaderboard_fits_a_1400_pixel_window_in_chromium(site: Path, chromium: str) -> None:
    """Every table's right edge, as the page measures it on load, lies within the viewport."""
    dom = _headless(chromium, "--window-size=1400,900", "--dump-dom", (site / "index.html").resolve().as_uri()).stdout
    viewport = re.search(r'<body[^>]*data-viewport-width="(\d+)"', dom)
    assert viewport is not None and 1300 <= int(viewport.group(1)) <= 1400
    tables = re.findall(r'<table id="(\w+)"[^>]*data-table-right="(\d+)"', dom)
    assert {name for name, _ in tables} == {"ranking", "paired"}
    for name, right in tables:
        assert int(right) <= int(viewport.group(1)), f"table {name} ends at {right}px, past the viewport"


def test_build_command_marks_entries_within_noise(tmp_path: Path, submissions: list[Path], smoke_file: Path) -> None:
    from typer.testing import CliRunner

    from holobench.cli import app

    args = ["leaderboard", "build", *map(str, submissions), "--instances", str(smoke_file), "-o", str(tmp_path / "s")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "≈ 3" in result.output and f"≈ {NOT_SEPARABLE}" in result.output


def test_each_entry_links_to_its_answers_in_the_viewer(site: Path, chromium: str) -> None:
    """The site carries a run viewer of every entry (rank order); a row's "answers" link opens it
    with that entry as the run the filters apply to."""
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    text = (site / "viewer" / "data" / "index.js").read_text(encoding="utf-8")
    runs = json.loads(text[text.index("=") + 1 :].rstrip().rstrip(";"))["runs"]
    assert [r["label"] for r in runs] == [e["label"] for e in board["entries"]]
    for e in board["entries"]:
        assert e["viewer"] == f"viewer/index.html?run={e['rank'] - 1}"
    html = (site / "entries" / f"{board['entries'][1]['page'].split('/')[1]}").read_text(encoding="utf-8")
    assert "../viewer/index.html?run=1" in html

    async def steps(page: Any) -> None:
        await page.goto((site / "index.html").as_uri())
        await page.click("#ranking tbody tr:nth-child(2) a.answers")
        await page.wait_for_selector("body[data-ready='1']")
        assert await page.eval_on_selector("#f-run", "s => s.value") == "1"
        assert board["entries"][1]["label"] in await page.inner_text("#runs-line")

    browse(chromium, steps)
