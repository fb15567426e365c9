"""Generator speed and length accuracy on the paper grid, and the ad-hoc path.

Usage: .venv/bin/python benchmarks/bench_generate.py [--queries-per-db 0] [--workers 2 1]
       [--spider ../shared/spider] [--adhoc-calls 5]

1. Generates the bundled paper suite (answerable sampling, 10% unanswerable; N > 0 takes the
   first N queries of each database instead) and reports wall time, instances/s, peak memory
   and output size, once with an empty token-count cache ("cold") and once with it filled.
2. Reports the length error (actual vs. target tokens, o200k_base) of holobench's instances and
   of the reference method, which budgets characters / 3.66 per token, on the same rows.
3. Times repeated ad-hoc ``holobench generate --sql ...`` calls on Spider's college_2 (each a new
   process): the first with an empty cache, then the median of the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from holobench.context import InstanceBuilder
from holobench.sources import BundledSource
from holobench.suite import QuerySelection, Suite, generate_suite, load_suite
from holobench.tokenizers import get_tokenizer


def paper_subset(per_db: int) -> Suite:
    paper = load_suite("paper")
    if per_db <= 0:
        return paper
    src = BundledSource()
    ids = [q.id for d in src.list_databases() for q in src.queries(d)[:per_db]]
    return paper.model_copy(update={"name": f"paper-{per_db}", "queries": QuerySelection(ids=tuple(ids))})


def speed(per_db: int, workers: int, cache: str) -> list[dict[str, object]]:
    suite = Suite.model_validate(paper_subset(per_db).model_dump())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = generate_suite(suite, Path(tmp), workers=workers)
        elapsed = time.perf_counter() - start
        size = (Path(tmp) / "instances.jsonl").stat().st_size
        peak = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        lengths = []
        with (Path(tmp) / "instances.jsonl").open(encoding="utf-8") as fh:
            for line in fh:  # streamed: only two numbers per record are kept
                record = json.loads(line)
                lengths.append({"target": record["config"]["target_tokens"], "tokens": record["stats"]["tokens"]})
    print(
        f"| {manifest['instances']:,} | {workers} | {cache} | {elapsed:.1f} | {manifest['instances'] / elapsed:.0f} "
        f"| {peak / 1024:.0f} | {size / 1e6:.0f} |"
    )
    return lengths


def adhoc(spider: Path, calls: int) -> None:
    """Repeated one-instance calls through the CLI, each a fresh process, on one Spider database."""
    sql = "SELECT dept_name, COUNT(*) FROM instructor GROUP BY dept_name"
    cmd = [sys.executable, "-m", "holobench.cli", "generate", "--source", f"spider:{spider}", "--db", "college_2"]
    cmd += ["--sql", sql, "--question", "How many instructors does each department have?", "--length", "4096"]
    cmd += ["--amount", "1024"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HOLOBENCH_CACHE_DIR": str(Path(tmp) / "cache")}
        times = []
        for i in range(calls):
            start = time.perf_counter()
            subprocess.run([*cmd, "-o", str(Path(tmp) / f"{i}.jsonl")], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
    rest = statistics.median(times[1:]) if len(times) > 1 else float("nan")
    print(f"| college_2 | {calls} | {times[0]:.2f} | {rest:.2f} | {min(times[1:] or times):.2f} |")


def reference_errors(per_db: int, sample_per_query: int = 2) -> list[float]:
    """Fill with chars/3.66 estimates (the reference code's method) on the same candidate rows."""
    src = BundledSource()
    dbs = {d: src.open(d) for d in src.list_databases()}
    tok = get_tokenizer()
    errors = []
    for db_id, db in dbs.items():
        builder = InstanceBuilder(db, tok, fillers=[x for k, x in dbs.items() if k != db_id])
        for query in src.queries(db_id)[:per_db]:
            for target in (4096, 16384, 65536)[: sample_per_query + 1]:
                order, own = builder._orders(query, 0)
                lines, used = [], 0.0
                for line in [*order, *own]:
                    est = len(line.text) / 3.66
                    if used + est > target:
                        break
                    lines.append(line.text)
                    used += est
                real = tok.count("\n".join(lines))
                errors.append((real - target) / target * 100)
    return errors


def summarise(name: str, errors: list[float]) -> None:
    errors = sorted(errors)
    over = sum(e > 0 for e in errors) / len(errors) * 100
    print(
        f"| {name} | {len(errors):,} | {errors[0]:+.2f}% | {statistics.median(errors):+.2f}% | {errors[-1]:+.2f}% "
        f"| {over:.0f}% |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries-per-db", type=int, default=0, help="0: the whole paper suite")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--spider", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "spider")
    parser.add_argument("--adhoc-calls", type=int, default=5)
    args = parser.parse_args()
    print("| instances | workers | token cache | seconds | instances/s | peak MB | output MB |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    lengths: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HOLOBENCH_CACHE_DIR"] = cache
        for w in args.workers:
            for state in ("cold", "warm"):
                if state == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                lengths = speed(args.queries_per_db, w, state)
    ours = [(int(str(x["tokens"])) - int(str(x["target"]))) / int(str(x["target"])) * 100 for x in lengths]
    print("\n| method | instances | min error | median | max | over target |")
    print("|---|---:|---:|---:|---:|---:|")
    summarise("holobench (exact)", ours)
    summarise("reference (chars/3.66)", reference_errors(args.queries_per_db or 30))
    if (args.spider / "database").is_dir() and args.adhoc_calls > 0:
        print("\n| database | calls | first call s | median of the rest s | fastest s |")
        print("|---|---:|---:|---:|---:|")
        adhoc(args.spider, args.adhoc_calls)


if __name__ == "__main__":
    main()
