"""Counterfactual data on the paper grid: what the perturbation changes, and what it costs.

Usage: .venv/bin/python benchmarks/bench_perturb.py [--suite paper] [--workers 2] [--keep DIR]

1. Generates the suite as it is and with ``perturb`` (the same suite plus ``perturb: {seed: 0}``;
   for ``paper`` that is ``paper-counterfactual``), each timed with a warm on-disk cache (a first,
   untimed pass of each fills it), and times rewriting every bundled database once.
2. Audits both: per category the share of non-empty answerable gold answers that differ from the
   answer the same query gives on the original database over the same rows (``changed``), and
   the answerability numbers (empty gold, lone 0/NULL, joins non-empty, unanswerable share).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from holobench.perturb import perturb_database
from holobench.records import Perturbation
from holobench.scoring.audit import Audit, audit_file
from holobench.sources import BundledSource
from holobench.suite import Suite, generate_suite, load_suite


def timed_generate(suite: Suite, out: Path, workers: int) -> tuple[float, int]:
    generate_suite(suite, out, workers=workers)  # fills the on-disk cache of sentences and counts
    start = time.perf_counter()
    manifest = generate_suite(suite, out, workers=workers)
    return time.perf_counter() - start, int(manifest["instances"])


def rewrite_seconds() -> dict[str, float]:
    src = BundledSource()
    out = {}
    for db_id in src.list_databases():
        db = src.open(db_id)
        sqls = [q.sql for q in src.queries(db_id)]
        start = time.perf_counter()
        perturb_database(db, Perturbation(seed=0), sqls)
        out[db_id] = time.perf_counter() - start
    return out


def print_audits(plain: Audit, perturbed: Audit) -> None:
    print("| group | instances | unanswerable | empty gold | lone 0/NULL | joins non-empty | changed | changed cells |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, audit in (("original", plain), ("perturbed", perturbed)):
        for row in [audit.overall, *audit.by_category]:
            joins = "-" if row.join_non_empty is None else f"{row.join_non_empty:.1%}"
            changed = "-" if row.changed_answers is None else f"{row.changed_answers:.1%}"
            cells = "-" if row.changed_cells is None else f"{row.changed_cells:.1%}"
            print(
                f"| {label}: {row.group} | {row.instances:,} | {row.unanswerable:.1%} | {row.empty_gold:.1%} "
                f"| {row.lone_zero_or_null:.1%} | {joins} | {changed} | {cells} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="paper")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the two suites here instead of a temporary folder")
    args = parser.parse_args()
    plain = load_suite(args.suite)
    perturbed = plain.model_copy(update={"name": f"{plain.name}-perturbed", "perturb": Perturbation(seed=0)})
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for db_id, seconds in rewrite_seconds().items():
            print(f"rewrite {db_id}: {seconds:.2f} s")
        results = {}
        for label, suite in (("original", plain), ("perturbed", perturbed)):
            seconds, instances = timed_generate(suite, root / label, args.workers)
            print(f"generate {label}: {instances:,} instances in {seconds:.1f} s ({instances / seconds:.0f}/s)")
            results[label] = audit_file(root / label)
        print_audits(results["original"], results["perturbed"])


if __name__ == "__main__":
    main()
