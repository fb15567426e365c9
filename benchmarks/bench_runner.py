"""Runner throughput against a loopback OpenAI-compatible server with a fixed latency.

Usage: .venv/bin/python benchmarks/bench_runner.py [--latency 0.2] [--levels 1 8 32 64 128]
           [--rounds 20] [--transports direct sdk]

The server (holobench.testing.fake_server --asyncio) runs in its own process on the same machine, so the
runner's CPU time is its own; the server's is reported beside it.  For each transport of the
`openai` backend and each concurrency level the runner sends ``rounds x concurrency`` requests
built from the smoke suite's instances (distinct prompts of about 1.2k tokens, cache off).

Two throughputs are reported against the ideal ``concurrency / latency``: over the whole run
(start-up and the last, draining round included) and in the steady state, between the first
round's last answer and the last round's first.  CPU per request is taken over the same steady
window (the whole-run figure at concurrency 1 is mostly start-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from holobench.backends import BackendOptions, SamplingParams
from holobench.backends.client import Client
from holobench.runner import RunConfig, Runner
from holobench.suite import generate_suite, load_suite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_instances(folder: Path, count: int) -> Path:
    if not (folder / "smoke" / "instances.jsonl").exists():
        generate_suite(load_suite("smoke"), folder / "smoke")
    base = (folder / "smoke" / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    out = folder / f"instances-{count}.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for i in range(count):
            record = json.loads(base[i % len(base)])
            record["id"] = f"bench-{i:06d}"
            record["question"] += f" (#{i})"  # distinct prompts: no cache or server-side dedup
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")  # compact, as generated
    return out


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of another process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(instances: Path, out: Path, url: str, transport: str, level: int, n: int) -> dict[str, float]:
    cfg = RunConfig(
        backend="openai",
        options=BackendOptions(model="fake-model", base_url=url, options={"transport": transport}),
        concurrency=level,
        cache_dir=None,
        sampling=SamplingParams(max_tokens=64),
    )
    runner = Runner(instances, out, cfg)
    marks: list[tuple[float, float]] = []

    def progress(done: int, total: int, client: Client) -> None:
        marks.append((time.perf_counter(), time.process_time()))

    t0 = time.perf_counter()
    summary = asyncio.run(runner.run(progress))
    wall = time.perf_counter() - t0
    assert summary["this_run"]["ok"] == n, summary
    (t_a, cpu_a), (t_b, cpu_b) = marks[level - 1], marks[n - level - 1]
    steady = n - 2 * level
    return {"wall": wall, "steady_rate": steady / (t_b - t_a), "steady_cpu": (cpu_b - cpu_a) / steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--transports", nargs="+", default=["direct", "sdk"], choices=["direct", "sdk"])
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: the steady state lies between the first and last rounds")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "holobench.testing.fake_server",
            "--asyncio",
            "--port",
            str(port),
            "--latency",
            str(args.latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    server.stdout.readline()  # "serving ..."
    url = f"http://127.0.0.1:{port}/v1"
    print(
        "| transport | concurrency | requests | seconds | % of ideal, whole run | % of ideal, steady state "
        "| runner CPU ms/request | server CPU ms/request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for transport in args.transports:
                for level in args.levels:
                    n = max(level * args.rounds, 20)
                    instances = make_instances(folder, n)
                    server_cpu = process_cpu(server.pid)
                    m = measure(instances, folder / f"run-{transport}-{level}", url, transport, level, n)
                    after = process_cpu(server.pid)
                    ideal = level / args.latency
                    served = (
                        f"{(after - server_cpu) / n * 1000:.2f}"
                        if after is not None and server_cpu is not None
                        else "n/a"
                    )
                    print(
                        f"| {transport} | {level} | {n} | {m['wall']:.2f} | {n / m['wall'] / ideal * 100:.1f}% "
                        f"| {m['steady_rate'] / ideal * 100:.1f}% | {m['steady_cpu'] * 1000:.2f} | {served} |",
                        flush=True,
                    )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
