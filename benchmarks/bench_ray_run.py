"""A run's overhead per request through Ray, against the same run in one process, on one machine.

Usage: .venv/bin/python benchmarks/bench_ray_run.py [--requests 2000] [--concurrency 32]
           [--latency 0.05] [--repeat 2]

The server (holobench.testing.fake_server --asyncio, a fixed latency) runs in its own process.
The ``openai`` backend answers ``--requests`` distinct smoke prompts (about 1.2k tokens each,
cache off) at ``--concurrency``: in this process (``--executor local``), then on a one-node Ray
cluster of 2 CPUs and a two-node one of 1 CPU each, both started here with
``ray.cluster_utils.Cluster`` (start-up not timed).  Each Ray case runs ``--repeat`` times on
the same cluster (the first starts the workers' processes; the workers start on every run).
Start-up (a Ray run's workers placed and their backends prepared) is timed apart from the run.
The ideal run time is ``requests x latency / concurrency``; what the run takes beyond it, per
request, is its overhead.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import holobench
from holobench.backends import BackendOptions
from holobench.ray_run import RayRunner
from holobench.runner import RunConfig, Runner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runner import free_port, make_instances


def timed(make: Callable[[Path], Runner], out: Path) -> tuple[float, float, int]:
    """Seconds to start (a Ray run's workers, with their backends prepared), seconds from then to
    the last record, and the number answered."""
    start = time.perf_counter()
    runner = make(out)
    started = time.perf_counter()
    summary = asyncio.run(runner.run())
    return started - start, time.perf_counter() - started, summary["this_run"]["ok"]


def row(how: str, run: int, result: tuple[float, float, int], args: argparse.Namespace) -> None:
    startup, seconds, answered = result
    assert answered == args.requests, f"{how}: {answered} of {args.requests} answered"
    ideal = args.requests * args.latency / args.concurrency
    overhead_ms = 1000 * (seconds - ideal) / args.requests
    cells = [how, run, f"{answered:,}", f"{startup:.1f}", f"{seconds:.1f}", f"{ideal:.1f}"]
    cells += [f"{answered / seconds:.0f}", f"{overhead_ms:.2f}"]
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)


def on_cluster(nodes: int, cpus: int, make: Callable[[Path], Runner], args: argparse.Namespace, tmp: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    node = {"num_cpus": cpus, "object_store_memory": 200 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        how = f"ray, {nodes} node{'s' if nodes > 1 else ''} x {cpus} CPU{'s' if cpus > 1 else ''}"
        for run in range(1, args.repeat + 1):
            row(how, run, timed(make, tmp / f"ray-{nodes}-{run}"), args)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-run-"))
    os.environ["HOLOBENCH_CACHE_DIR"] = str(tmp / "cache")
    root = str(Path(holobench.__file__).resolve().parents[1])  # Ray's workers import this holobench
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    port = free_port()
    command = [sys.executable, "-m", "holobench.testing.fake_server", "--asyncio", "--port", str(port)]
    server = subprocess.Popen([*command, "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().startswith("serving")
        instances = make_instances(tmp, args.requests)
        options = BackendOptions(model="fake-model", base_url=f"http://127.0.0.1:{port}/v1")
        config = RunConfig(backend="openai", options=options, concurrency=args.concurrency, cache_dir=None)
        print("| executor | run | requests | start-up s | run s | ideal s | requests/s | overhead ms/request |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for run in range(1, args.repeat + 1):
            row("local", run, timed(lambda out: Runner(instances, out, config), tmp / f"local-{run}"), args)
        ray_runner: Callable[[Path], Runner] = lambda out: RayRunner(instances, out, config)  # noqa: E731
        on_cluster(1, 2, ray_runner, args, tmp)
        on_cluster(2, 1, ray_runner, args, tmp)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
