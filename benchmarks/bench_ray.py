"""Generation speed on Ray against local processes, on one machine.

Usage: .venv/bin/python benchmarks/bench_ray.py [--queries-per-db 20] [--repeat 2]

Generates the bundled ``smoke`` suite and a cut of ``paper`` (the first N queries of each
database, the whole paper grid) with ``--workers 1``, ``--workers 2``, a one-node Ray cluster
(2 CPUs) and a two-node one (1 CPU each), both started in this process with
``ray.cluster_utils.Cluster``. Each Ray case runs ``--repeat`` times on the same cluster: the
first starts Ray's worker processes, later ones reuse them (and the suite state they keep).
The on-disk cache of sentences and token counts is a fresh folder, filled by one untimed
``--workers 1`` run of each suite first (so every case starts "warm", as a second run would).
Every output is checked byte-identical to that run. Prints a Markdown table; cluster start-up
is not timed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import holobench
from holobench.executors import Executor, RayExecutor
from holobench.sources import BundledSource
from holobench.suite import QuerySelection, Suite, generate_suite, load_suite


def paper_cut(per_db: int) -> Suite:
    src = BundledSource()
    ids = tuple(q.id for d in src.list_databases() for q in src.queries(d)[:per_db])
    paper = load_suite("paper")
    return Suite.model_validate(paper.model_dump() | {"name": f"paper-{per_db}", "queries": QuerySelection(ids=ids)})


def timed(suite: Suite, executor: Executor | None, workers: int = 1) -> tuple[float, int, str]:
    """Seconds, instances built and the SHA-256 of instances.jsonl."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = generate_suite(suite, Path(tmp), workers=workers, executor=executor)
        elapsed = time.perf_counter() - start
        digest = hashlib.sha256((Path(tmp) / "instances.jsonl").read_bytes()).hexdigest()
    return elapsed, manifest["instances"], digest


def row(suite: Suite, how: str, run: int, result: tuple[float, int, str], want: str) -> None:
    seconds, instances, digest = result
    assert digest == want, f"{suite.name} {how}: output differs from --workers 1"
    print(f"| {suite.name} | {instances:,} | {how} | {run} | {seconds:.1f} | {instances / seconds:.0f} |", flush=True)


def on_cluster(nodes: int, cpus: int, suites: list[Suite], repeat: int, want: dict[str, str]) -> None:
    """Start a cluster of ``nodes`` x ``cpus``, time every suite ``repeat`` times, tear it down."""
    import ray
    from ray.cluster_utils import Cluster

    node = {"num_cpus": cpus, "object_store_memory": 200 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        executor = RayExecutor(cluster.address)
        how = f"ray, {nodes} node{'s' if nodes > 1 else ''} x {cpus} CPU{'s' if cpus > 1 else ''}"
        for suite in suites:
            for run in range(1, repeat + 1):
                row(suite, how, run, timed(suite, executor), want[suite.name])
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries-per-db", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ["HOLOBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-ray-cache-")
    # Ray's nodes and workers import the holobench this script imports.
    root = str(Path(holobench.__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    suites = [load_suite("smoke"), paper_cut(args.queries_per_db)]
    print("| suite | instances | executor | run | seconds | instances/s |")
    print("|---|---:|---|---:|---:|---:|")
    want = {suite.name: timed(suite, None)[2] for suite in suites}  # untimed: fills the cache
    local: list[tuple[str, Callable[[Suite], tuple[float, int, str]]]] = [
        ("--workers 1", lambda s: timed(s, None, 1)),
        ("--workers 2", lambda s: timed(s, None, 2)),
    ]
    for suite in suites:
        for how, fn in local:
            row(suite, how, 1, fn(suite), want[suite.name])
    on_cluster(1, 2, suites, args.repeat, want)
    on_cluster(2, 1, suites, args.repeat, want)


if __name__ == "__main__":
    main()
