"""Position analysis speed: time to find the carriers of one instance, by context length and by
search (group testing, or one line at a time where removals can cancel).

    .venv/bin/python benchmarks/bench_position.py                          # the smoke suite, generated here
    .venv/bin/python benchmarks/bench_position.py --instances PATH         # any instances file
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from holobench.carriers import PositionItem, gold_carriers, group_testable
from holobench.context import InstanceBuilder
from holobench.jsonl import read_instances
from holobench.sources import open_source
from holobench.suite import generate_suite, load_suite
from holobench.tokenizers import get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=Path, help="an instances file (default: the smoke suite, generated)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instances = args.instances
        if instances is None:
            generate_suite(load_suite("smoke"), Path(tmp))
            instances = Path(tmp) / "instances.jsonl"
        timings: dict[tuple[int, str], list[float]] = {}
        builders: dict[tuple[str, str], InstanceBuilder] = {}
        for item in read_instances(instances, None, PositionItem):
            key = (item.source, item.db_id)
            if key not in builders:  # opening a database is not timed
                builders[key] = InstanceBuilder(open_source(item.source).open(item.db_id), get_tokenizer())
            start = time.perf_counter()
            gold_carriers(item, builders[key])
            relevant = [i for i, line in enumerate(item.lines) if line.relevant]
            search = "group testing" if group_testable(item, builders[key], relevant) else "line by line"
            timings.setdefault((item.config.target_tokens, search), []).append(time.perf_counter() - start)
    print(f"{'tokens':>7} {'search':<14} {'n':>5} {'mean s':>8} {'median s':>9} {'max s':>7}")
    for (tokens, search), values in sorted(timings.items()):
        print(
            f"{tokens:>7} {search:<14} {len(values):>5} {statistics.fmean(values):>8.3f} "
            f"{statistics.median(values):>9.3f} {max(values):>7.3f}"
        )
    every = [v for values in timings.values() for v in values]
    print(f"all: {len(every)} instances, {sum(every):.1f} s, {statistics.fmean(every):.3f} s an instance")


if __name__ == "__main__":
    main()
