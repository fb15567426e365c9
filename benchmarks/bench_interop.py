"""One suite, three harnesses: wall time of holobench run + score, inspect eval and lm_eval on
the same loopback server (replies are instant, so this is each harness's own overhead).

Usage: .venv/bin/python benchmarks/bench_interop.py [--suite smoke]
Needs the inspect and lm-eval extras. Prints one Markdown table row per harness.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from holobench.backends import BackendOptions
from holobench.export import export
from holobench.runner import RunConfig, Runner
from holobench.scoring.score import score_match
from holobench.suite import generate_suite, load_suite
from holobench.testing.fake_server import FakeOpenAIServer


def holobench_run(suite: Path, url: str, out: Path) -> None:
    os.environ["BENCH_KEY"] = "none"
    options = BackendOptions(model="fake-model", base_url=url, api_key_env="BENCH_KEY")
    asyncio.run(
        Runner(
            suite / "instances.jsonl", out / "run", RunConfig(backend="openai", options=options, cache_dir=None)
        ).run()
    )
    score_match(suite / "instances.jsonl", out / "run")


def inspect_eval(suite: Path, url: str, out: Path) -> None:
    import inspect_ai

    os.environ["FAKE_API_KEY"] = "none"
    (log,) = inspect_ai.eval(
        "holobench/suite",
        model="openai-api/fake/fake-model",
        model_base_url=url,
        task_args={"instances": str(suite)},
        log_dir=str(out / "inspect-logs"),
        display="none",
    )
    assert log.status == "success", log.error


def lm_eval(suite: Path, url: str, out: Path) -> None:
    export(suite, out / "task", "lm-eval")
    task = next((out / "task").glob("*.yaml")).stem
    command = [
        str(Path(sys.executable).parent / "lm_eval"),
        *("--model", "local-chat-completions", "--apply_chat_template"),
        *("--model_args", f"model=fake-model,base_url={url}/chat/completions"),
        *("--include_path", str(out / "task"), "--tasks", task, "--output_path", str(out / "lm-eval")),
    ]
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run(command, env=env, cwd=out, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="smoke")
    args = parser.parse_args()
    server = FakeOpenAIServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_suite(load_suite(args.suite), root / "suite")
        count = sum(1 for _ in (root / "suite" / "instances.jsonl").open(encoding="utf-8"))
        print("| harness | instances | wall s | ms/instance |")
        print("|---|---:|---:|---:|")
        for name, step in (
            ("holobench run + score", holobench_run),
            ("inspect eval", inspect_eval),
            ("lm_eval", lm_eval),
        ):
            out = root / name.split()[0]
            out.mkdir()
            start = time.perf_counter()
            step(root / "suite", server.base_url, out)
            wall = time.perf_counter() - start
            print(f"| {name} | {count} | {wall:.1f} | {1000 * wall / count:.0f} |", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
