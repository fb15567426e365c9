"""Runner throughput against a loopback OpenAI-compatible server with a fixed latency.

Usage: .venv/bin/python benchmarks/bench_runner.py [--latency 0.2] [--levels 1 8 32 64 128]

The server runs in its own process (holobench.fake_server), so the client's CPU time is its own.
For each concurrency level the runner sends ``rounds x concurrency`` requests built from the
smoke suite's instances (about 2.2k-token prompts) and reports throughput against the ideal
``concurrency / latency`` and the runner's own CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from holobench.backends import BackendOptions, SamplingParams
from holobench.runner import RunConfig, Runner
from holobench.suite import generate_suite, load_suite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_instances(folder: Path, count: int) -> Path:
    generate_suite(load_suite("smoke"), folder / "smoke")
    base = (folder / "smoke" / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    out = folder / f"instances-{count}.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for i in range(count):
            record = json.loads(base[i % len(base)])
            record["id"] = f"bench-{i:06d}"
            record["question"] += f" (#{i})"  # distinct prompts: no cache or server-side dedup
            fh.write(json.dumps(record) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "holobench.fake_server",
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
    print("| concurrency | requests | seconds | requests/s | ideal/s | % of ideal | runner CPU ms/request |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for level in args.levels:
                n = max(level * args.rounds, 20)
                instances = make_instances(folder, n)
                cfg = RunConfig(
                    backend="openai",
                    options=BackendOptions(model="fake-model", base_url=f"http://127.0.0.1:{port}/v1"),
                    concurrency=level,
                    cache_dir=None,
                    sampling=SamplingParams(max_tokens=64),
                )
                runner = Runner(instances, folder / f"run-{level}", cfg)
                cpu0, t0 = time.process_time(), time.perf_counter()
                summary = asyncio.run(runner.run())
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                assert summary["this_run"]["ok"] == n, summary
                ideal = level / args.latency
                rate = n / wall
                print(
                    f"| {level} | {n} | {wall:.2f} | {rate:.1f} | {ideal:.1f} | {rate / ideal * 100:.0f}% "
                    f"| {cpu / n * 1000:.2f} |"
                )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
