"""Viewer speed: building the site, and how fast an instance page becomes interactive in Chromium.

    .venv/bin/python benchmarks/bench_viewer.py                     # a 64k- and a 1M-token instance
    .venv/bin/python benchmarks/bench_viewer.py --tokens 65536 --repeat 5

Each instance is generated ad hoc from the bundled store_1 database (a ranking over all tracks, so
many lines carry gold rows), answered by a run that gets half the rows right, scored with `match`,
and written to a viewer. The page is then opened in headless Chromium (playwright driving the
system browser) from ``file://``: "interactive" is when the page has rendered its first context
page, gold table and minimap and set ``data-ready`` (its own ``performance.now()``), and the
navigation-to-ready wall time is measured from the driver too. A jump to the last line is timed
as well, since paging is what keeps a 1M-token context usable.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from holobench.context import InstanceBuilder
from holobench.jsonl import write_jsonl
from holobench.records import Category, Difficulty, Prediction, Query
from holobench.scoring.score import score_match
from holobench.sources import BundledSource
from holobench.tokenizers import get_tokenizer
from holobench.viewer import build_viewer
from holobench.viewer.data import file_name

QUERY = Query(
    id="bench-longest",
    db_id="store_1",
    question="Which ten tracks are the longest? Give their names and lengths, longest first.",
    sql="SELECT name, milliseconds FROM tracks ORDER BY milliseconds DESC LIMIT 10",
    categories=(Category.RANKING,),
    difficulty=Difficulty.EASY,
)


def _run(folder: Path, instances: Path, rows: list[list[object]], instance_id: str) -> Path:
    run = folder / "run"
    run.mkdir()
    answer = "Final answer:\n" + "\n".join(f"- {r[0]}, {r[1]}" for r in rows[: len(rows) // 2])
    prediction = Prediction(id=instance_id, backend="openai", model="bench", prompt="cot", status="ok", response=answer)
    write_jsonl(run / "predictions.jsonl", [prediction])
    (run / "manifest.json").write_text(f'{{"instances": "{instances}"}}', encoding="utf-8")
    score_match(instances, run)
    return run


def bench(tokens: int, amount: int, repeat: int, chromium: str, root: Path) -> None:
    folder = root / str(tokens)
    folder.mkdir()
    source = BundledSource()
    fillers = [source.open(db) for db in ("baseball", "nycflights")]
    builder = InstanceBuilder(source.open("store_1"), get_tokenizer("o200k_base"), fillers=fillers)
    start = time.perf_counter()
    instance = builder.build(QUERY, tokens, placement="uniform", amount=amount)
    generated = time.perf_counter() - start
    instances = folder / "instances.jsonl"
    write_jsonl(instances, [instance])
    run = _run(folder, instances, instance.gold.rows, instance.id)
    start = time.perf_counter()
    build_viewer([run], folder / "view")
    built = time.perf_counter() - start
    data = folder / "view" / "data" / "i" / f"{file_name(instance.id)}.js"
    url = (folder / "view" / "instance.html").as_uri() + f"?id={file_name(instance.id)}"
    ready, wall, jump = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            wall.append(time.perf_counter() - start)
            ready.append(page.evaluate("window.HOLO_READY_MS") / 1000)
            start = time.perf_counter()
            page.fill("#goto", str(len(instance.lines)))
            page.press("#goto", "Enter")
            page.wait_for_selector(f"#L{len(instance.lines)}")
            jump.append(time.perf_counter() - start)
            page.close()
        browser.close()
    print(
        f"{tokens:>9,} tokens, {len(instance.lines):>6,} lines, {instance.stats.relevant_rows} relevant: "
        f"generate {generated:.1f} s, viewer build {built:.1f} s, data {data.stat().st_size / 1e6:.1f} MB; "
        f"ready (page clock) median {statistics.median(ready):.2f} s, max {max(ready):.2f} s; "
        f"navigation to ready median {statistics.median(wall):.2f} s; jump to last line median "
        f"{statistics.median(jump):.2f} s (n={repeat})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[65_536, 1_000_000])
    parser.add_argument("--amount", type=int, default=4_096, help="tokens of relevant rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for tokens in args.tokens:
            bench(tokens, args.amount, args.repeat, args.chromium, Path(tmp))


if __name__ == "__main__":
    main()
