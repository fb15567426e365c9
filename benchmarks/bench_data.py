"""Data-layer speed: load each database, verbalize and check every row, run every query.

Usage: .venv/bin/python benchmarks/bench_data.py [--source spider:../shared/spider]
Prints one Markdown table row per database (seconds, wall clock, single process).
"""

from __future__ import annotations

import argparse
import resource
import time

from holobench.sources import open_source
from holobench.verbalize import check_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="bundled")
    args = parser.parse_args()
    src = open_source(args.source)
    print("| database | rows | load s | verbalize+check s | rows/s | queries | queries s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for db_id in src.list_databases():
        t0 = time.perf_counter()
        db = src.open(db_id)
        rows = sum(db.row_count(t) for t in db.tables)
        t1 = time.perf_counter()
        report = check_database(db)
        t2 = time.perf_counter()
        queries = src.queries(db_id)
        for q in queries:
            db.execute(q.sql, q.dialect)
        t3 = time.perf_counter()
        assert report.ok, report.missing[:3]
        print(
            f"| {db_id} | {rows:,} | {t1 - t0:.2f} | {t2 - t1:.2f} | {rows / (t2 - t1):,.0f} "
            f"| {len(queries)} | {t3 - t2:.2f} |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
