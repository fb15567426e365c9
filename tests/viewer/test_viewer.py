"""The run viewer: the site's data checked against the runs, then the pages driven in Chromium."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from holobench.cli import main
from holobench.context import InstanceBuilder
from holobench.errors import HoloBenchError
from holobench.jsonl import read_instances, write_jsonl
from holobench.position import decile, relative_position
from holobench.records import LABEL_WEIGHT, Category, Difficulty, Prediction, Query
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match
from holobench.viewer import build_viewer, serve
from holobench.viewer.data import file_name

from ..conftest import ARTIFACTS, browse
from ..scoring_helpers import write_run

HOSTILE = '<script>window.PWNED = 1</script><img src=x onerror="window.PWNED = 2"> & </pre>'


def _data(path: Path) -> Any:
    """The JSON value a data script assigns."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text[text.index("=") + 1 :].rstrip().rstrip(";"))


def _hostile_run(root: Path, instances: Path) -> Path:
    """A run whose model name and answers carry markup and script."""
    run = write_run(root, instances, model="weak <b>model</b>", quality=2)
    journal = run / "predictions.jsonl"
    records = [Prediction.model_validate_json(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    records = [
        r.model_copy(update={"response": f"{r.response}\n{HOSTILE}", "reasoning": HOSTILE}) if r.status == "ok" else r
        for r in records
    ]
    write_jsonl(journal, records)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, smoke_file: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    out = [write_run(root, smoke_file, model="strong-model", quality=4), _hostile_run(root, smoke_file)]
    for run in out:
        score_match(smoke_file, run)
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, runs: list[Path]) -> Path:
    out = tmp_path_factory.mktemp("viewer") / "view"
    build_viewer(runs, out)
    return out


def test_site_holds_every_instance_with_its_runs(site: Path, runs: list[Path], smoke_file: Path) -> None:
    index = _data(site / "data" / "index.js")
    assert [r["label"] for r in index["runs"]] == ["strong-model", "weak <b>model</b>"]
    instances = {i.id: i for i in read_instances(smoke_file)}
    assert {s["id"] for s in index["samples"]} == set(instances)
    scores = [{r.id: r for r in read_scores(run / "scores" / "match" / "scores.jsonl")} for run in runs]
    for s in index["samples"]:
        for cell, by_id in zip(s["runs"], scores, strict=True):
            record = by_id[s["id"]]
            assert cell["status"] == record.status and cell["score"] == record.score
            assert (cell["exact"], cell["partial"]) == (record.exact, record.partial)
        view = _data(site / "data" / "i" / f"{s['file']}.js")
        inst = instances[s["id"]]
        assert view["lines"] == inst.context.split("\n")
        assert view["kinds"] == "".join("r" if x.relevant else "f" if x.db else "a" for x in inst.lines)
        assert len(view["carriers"]) == len(inst.gold.rows)
        for lines in view["carriers"]:
            assert all(inst.lines[i].relevant for i in lines)  # only relevant lines carry gold rows
        assert view["runs"][0]["labels"] == [label.value for label in scores[0][s["id"]].labels]
    manifest = json.loads((site / "viewer.json").read_text(encoding="utf-8"))
    assert manifest["samples"] == len(instances)


def test_data_files_hold_no_markup(site: Path) -> None:
    """Strings from runs are JSON-escaped inside scripts: no raw '<' reaches a data file."""
    for path in [site / "data" / "index.js", *(site / "data" / "i").iterdir()]:
        assert "<" not in path.read_text(encoding="utf-8"), path


def test_file_names_are_safe_and_distinct() -> None:
    names = {file_name(x) for x in ["a/b", "a_b", "../../etc", "x" * 500, "", "é<>"]}
    assert len(names) == 6
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) and len(n) < 90 for n in names)


def test_build_refuses_bad_inputs(tmp_path: Path, runs: list[Path], smoke_file: Path) -> None:
    with pytest.raises(HoloBenchError, match=r"no predictions\.jsonl"):
        build_viewer([tmp_path], tmp_path / "v")
    other = tmp_path / "other.jsonl"
    other.write_text("".join(line for line in smoke_file.read_text(encoding="utf-8").splitlines(True)[:3]))
    with pytest.raises(HoloBenchError, match="another instances file"):
        build_viewer(runs, tmp_path / "v", instances=other)
    not_a_viewer = tmp_path / "keep"
    not_a_viewer.mkdir()
    (not_a_viewer / "notes.txt").write_text("mine")
    with pytest.raises(HoloBenchError, match="keep"):
        build_viewer(runs, not_a_viewer)
    assert (not_a_viewer / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "v").exists()


def test_cli_writes_the_viewer_and_says_where(
    tmp_path: Path, runs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main_args(["view", str(runs[0]), "-o", str(tmp_path / "v")])
    assert done.value.code in (0, None)
    assert "open file://" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main_args(["view", str(tmp_path / "missing"), "-o", str(tmp_path / "w")])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "missing" in err


def main_args(argv: list[str]) -> None:
    import sys

    old = sys.argv
    sys.argv = ["holobench", *argv]
    try:
        main()
        raise SystemExit(0)
    finally:
        sys.argv = old


def test_serve_on_loopback(site: Path) -> None:
    server = serve(site, 0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1" and port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30) as reply:
            assert b"data/index.js" in reply.read()
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(HoloBenchError, match="not a viewer folder"):
        serve(site / "data", 0)


# --------------------------------------------------------------------------- in Chromium


async def _rows(page: Any) -> list[dict[str, Any]]:
    return await page.eval_on_selector_all(
        "#samples tbody tr",
        """rows => rows.map(tr => ({id: tr.dataset.id,
            cells: [...tr.querySelectorAll('td[data-status]')].map(td => [td.dataset.status, td.dataset.score])}))""",
    )


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await page.wait_for_selector("body[data-ready='1']")


def test_sample_table_filters_sorts_and_searches(chromium: str, site: Path, smoke_file: Path) -> None:
    instances = {i.id: i for i in read_instances(smoke_file)}
    question = next(iter(instances.values())).question[:25]

    async def steps(page: Any) -> None:
        await _open(page, (site / "index.html").as_uri())
        assert len(await _rows(page)) == len(instances)
        await page.select_option("#f-db", "store_1")
        rows = await _rows(page)
        assert rows and {instances[r["id"]].db_id for r in rows} == {"store_1"}
        assert await page.get_attribute("#summary", "data-count") == str(len(rows))
        assert "db=store_1" in page.url  # the view can be shared
        await page.select_option("#f-db", "")
        await page.click("#samples th[data-key='score0']")
        scores = [float(r["cells"][0][1]) if r["cells"][0][1] else -1 for r in await _rows(page)]
        assert scores == sorted(scores, reverse=True) and len(scores) == len(instances)
        await page.fill("#f-q", question)
        found = await _rows(page)
        assert found and all(question.lower() in instances[r["id"]].question.lower() for r in found)
        await page.fill("#f-q", "")
        await page.select_option("#f-status", "skipped")
        assert {r["cells"][0][0] for r in await _rows(page)} == {"skipped"}

    browse(chromium, steps)


def test_comparison_filter(chromium: str, site: Path, runs: list[Path]) -> None:
    scores = [{r.id: r for r in read_scores(run / "scores" / "match" / "scores.jsonl")} for run in runs]
    right_wrong = {
        i
        for i, a in scores[0].items()
        if a.status == "scored" and a.score == 1 and scores[1][i].status == "scored" and (scores[1][i].score or 0) < 1
    }
    lower = {
        i
        for i, a in scores[0].items()
        if a.score is not None and scores[1][i].score is not None and a.score < (scores[1][i].score or 0)
    }
    assert right_wrong and lower

    async def steps(page: Any) -> None:
        await _open(page, (site / "index.html").as_uri())
        await page.select_option("#c-rel", "a-right-b-wrong")
        assert {r["id"] for r in await _rows(page)} == right_wrong
        await page.select_option("#c-rel", "b-better")
        assert {r["id"] for r in await _rows(page)} == lower
        await _open(page, (site / "index.html").as_uri() + "?rel=a-right-b-wrong&a=0&b=1")  # from its address
        assert {r["id"] for r in await _rows(page)} == right_wrong

    browse(chromium, steps)


def test_instance_page_marks_relevant_and_carrier_lines(chromium: str, site: Path, smoke_file: Path) -> None:
    index = _data(site / "data" / "index.js")
    sample = next(s for s in index["samples"] if s["runs"][1] and s["runs"][1]["no"] and s["runs"][1]["exact"] + 1)
    view = _data(site / "data" / "i" / f"{sample['file']}.js")
    instance = next(i for i in read_instances(smoke_file) if i.id == sample["id"])
    carried: dict[int, list[int]] = {}
    for g, carriers in enumerate(view["carriers"]):
        for i in carriers:
            carried.setdefault(i, []).append(g + 1)
    missed = {i for g, lab in enumerate(view["runs"][1]["labels"]) if lab == "no" for i in view["carriers"][g]}
    target = view["carriers"][0][0]
    assert missed

    async def steps(page: Any) -> None:
        await _open(page, (site / "index.html").as_uri())
        await page.fill("#f-q", sample["id"])
        await page.click(f"#samples tr[data-id='{sample['id']}'] a")
        await page.wait_for_selector("body[data-ready='1']")
        assert await page.inner_text("#question") == instance.question
        lines = await page.eval_on_selector_all(
            "#context li[data-line]",
            "lis => lis.map(li => [Number(li.dataset.line), li.className, li.dataset.gold || ''])",
        )
        assert [i for i, _, _ in lines] == list(range(len(instance.lines)))
        for i, cls, gold in lines:
            assert (cls != "") == instance.lines[i].relevant  # relevant lines, and only they, are highlighted
            assert gold == " ".join(map(str, carried.get(i, [])))  # each line names the gold rows it carries
        await page.select_option("#mark-run", "1")  # the second run's misses: their lines turn red
        shown = await page.eval_on_selector_all("#context li.missed", "lis => lis.map(li => Number(li.dataset.line))")
        assert set(shown) == missed
        await page.click(f"#gold tr[data-gold='0'] a[data-line='{target}']")  # a gold row's link jumps to its line
        assert (await page.get_attribute(f"#L{target + 1}", "class")).endswith("flash")
        assert HOSTILE in await page.inner_text(".answer[data-run='1'] pre.response")  # markup shown as text
        assert await page.evaluate("window.PWNED") is None and await page.locator(".answer img").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "viewer-instance.png"), full_page=True)

    browse(chromium, steps)


def test_long_context_is_paged(chromium: str, tmp_path: Path, builders: dict[str, InstanceBuilder]) -> None:
    query = Query(
        id="longest",
        db_id="store_1",
        question="Which five tracks are the longest?",
        sql="SELECT name, milliseconds FROM tracks ORDER BY milliseconds DESC LIMIT 5",
        categories=(Category.RANKING,),
        difficulty=Difficulty.EASY,
    )
    instance = builders["store_1"].build(query, 24_000, placement="end", amount=2_000)
    instances = tmp_path / "instances.jsonl"
    write_jsonl(instances, [instance])
    run = write_run(tmp_path, instances, model="m", quality=1)
    score_match(instances, run)
    build_viewer([run], tmp_path / "view")
    n = len(instance.lines)
    relevant = sum(x.relevant for x in instance.lines)
    assert n > 500

    async def steps(page: Any) -> None:
        await _open(page, (tmp_path / "view" / "instance.html").as_uri() + f"?id={file_name(instance.id)}")
        assert await page.locator("#context li[data-line]").count() == 500  # one page in the DOM
        assert await page.inner_text("#page-info") == f"page 1 of {-(-n // 500)}"
        await page.fill("#goto", str(n))
        await page.press("#goto", "Enter")
        assert await page.locator(f"#L{n}").count() == 1
        await page.check("#only-relevant")
        kinds = await page.eval_on_selector_all("#context li[data-line]", "lis => lis.map(li => li.dataset.kind)")
        assert set(kinds) == {"r"} and len(kinds) == min(500, relevant)

    browse(chromium, steps)


def test_index_escapes_run_names_and_screenshot(chromium: str, site: Path) -> None:
    async def steps(page: Any) -> None:
        await _open(page, (site / "index.html").as_uri())
        assert "weak <b>model</b>" in await page.inner_text("#runs-line")
        assert await page.locator("header b, th b").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "viewer-index.png"))

    browse(chromium, steps)
    assert (ARTIFACTS / "viewer-index.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _fmt(value: float) -> str:
    """The page's number format: two decimals, trailing zeros dropped."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def test_position_table_matches_a_direct_computation(chromium: str, site: Path, runs: list[Path]) -> None:
    """Recall by decile and by placement, recomputed here from the carriers, the labels and each
    line's place, against what the page shows for the whole table and for one category."""
    index = _data(site / "data" / "index.js")
    scores = [{r.id: r for r in read_scores(run / "scores" / "match" / "scores.jsonl")} for run in runs]

    def expected(category: str | None) -> list[list[str]]:
        out = []
        for by_id in scores:
            deciles = [[0.0, 0.0] for _ in range(10)]
            placements: dict[str, list[float]] = {}
            for s in index["samples"]:
                if category and category not in s["categories"]:
                    continue
                placements.setdefault(s["placement"], [0.0, 0.0])  # the page lists the filter's placements
                record = by_id[s["id"]]
                if record.status != "scored" or s["answerable"] is False:  # no line carries an empty answer
                    continue
                view = _data(site / "data" / "i" / f"{s['file']}.js")
                n = len(view["lines"])
                for label, lines in zip(record.labels, view["carriers"], strict=False):
                    for i in lines:
                        for cell in (deciles[decile(relative_position(i, n))], placements[s["placement"]]):
                            cell[0] += LABEL_WEIGHT[label] / len(lines)
                            cell[1] += 1 / len(lines)
            row = [_fmt(f / w) if w else "\u2013" for f, w in deciles]
            out.append(row + [_fmt(f / w) if w else "\u2013" for _, (f, w) in sorted(placements.items())])
        return out

    async def shown(page: Any) -> list[list[str]]:
        cells = await page.eval_on_selector_all(
            "#position-table tbody tr", "trs => trs.map(tr => [...tr.cells].slice(1).map(td => td.textContent))"
        )
        return [row[:10] + row[11:] for row in cells]  # without the gold-row count column

    async def steps(page: Any) -> None:
        await _open(page, (site / "index.html").as_uri())
        assert await shown(page) == expected(None)
        await page.select_option("#f-category", "Aggregation")
        assert await shown(page) == expected("Aggregation")

    browse(chromium, steps)


def test_an_unanswerable_instance_and_odd_addresses(chromium: str, site: Path) -> None:
    """A withheld answer reads "no (by design)"; a line or run number out of range still shows the
    context, with the first run's marks; a line named in the address is opened and outlined."""
    index = _data(site / "data" / "index.js")
    sample = next(s for s in index["samples"] if s["answerable"] is False)
    url = (site / "instance.html").as_uri() + f"?id={sample['file']}"

    async def steps(page: Any) -> None:
        await _open(page, url + "&line=999999&run=-1")
        facts = await page.eval_on_selector_all("#facts dt, #facts dd", "els => els.map(e => e.textContent)")
        assert facts[facts.index("answerable") + 1] == "no (by design)"
        assert await page.locator("#context li[data-line]").count() > 0
        assert await page.eval_on_selector("#mark-run", "s => s.value") == "0"
        await _open(page, url + "#L3")
        assert (await page.get_attribute("#L3", "class") or "").endswith("flash")
        assert "line=3" in page.url

    browse(chromium, steps)
