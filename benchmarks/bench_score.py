"""Scoring and reporting speed: `match` records per second, and a report over several runs.

    .venv/bin/python benchmarks/bench_score.py                       # the smoke suite, generated here
    .venv/bin/python benchmarks/bench_score.py --instances results/paper/instances.jsonl

Each run answers every instance in a rotation of styles (faithful bullet list, markdown table,
JSON block, half the rows, "No answer"), so the scorer sees every code path.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from holobench.journal import Journal
from holobench.jsonl import file_hash, read_instances
from holobench.leaderboard import build
from holobench.records import Instance, Prediction
from holobench.report import write_report
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match
from holobench.scoring.trust import rescore_problems
from holobench.submit import pack, validate
from holobench.suite import generate_suite, load_suite


def reply(instance: Instance, style: int) -> tuple[str, str]:
    rows = instance.gold.rows
    if style == 0:
        return "cot", "Reasoning.\nFinal answer:\n" + "\n".join("- " + ", ".join(map(str, r)) for r in rows)
    if style == 1:
        head = "| " + " | ".join(instance.gold.columns) + " |\n|" + "---|" * len(instance.gold.columns) + "\n"
        return "cot", "Final answer:\n" + head + "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)
    if style == 2:
        return "structured", "```json\n" + json.dumps(rows) + "\n```"
    if style == 3:
        return "cot", "Final answer: " + "; ".join(" ".join(map(str, r)) for r in rows[: len(rows) // 2])
    return "cot", "Final answer: No answer"


def write_run(root: Path, instances: Path, name: str, shift: int) -> Path:
    run = root / name
    run.mkdir(parents=True)
    with (run / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for i, inst in enumerate(read_instances(instances)):
            _, text = reply(inst, (i + shift) % 5)
            p = Prediction(id=inst.id, backend="bench", model=name, prompt="cot", status="ok", response=text)
            fh.write(p.model_dump_json() + "\n")
    manifest = {
        "instances": str(instances),
        "instances_sha256": file_hash(instances),
        "backend": {"backend": "bench", "model": name},
        "prompt": "cot@bench",
        "sampling": {},
        "shard": None,
        "holobench_version": "bench",
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        instances = args.instances
        if instances is None:
            generate_suite(load_suite("smoke"), root / "suite")
            instances = root / "suite" / "instances.jsonl"
        runs = [write_run(root, instances, f"model-{k}", k) for k in range(args.runs)]
        n = sum(1 for _ in instances.open(encoding="utf-8"))
        start = time.perf_counter()
        for run in runs:
            score_match(instances, run)
        scoring = time.perf_counter() - start
        start = time.perf_counter()
        write_report(runs, root / "report", position=False)  # recall by position: bench_position.py
        reporting = time.perf_counter() - start
        start = time.perf_counter()
        subs = [pack(run, run / "scores" / "match", root / f"{run.name}.tar.gz", suite="bench") for run in runs]
        packing = time.perf_counter() - start
        start = time.perf_counter()
        for sub in subs:  # what leaderboard build does per submission before ranking it
            validate(sub, instances)
        trusting = time.perf_counter() - start
        start = time.perf_counter()
        for run in runs:  # the rescoring alone, inside that validation
            predictions = list(Journal(run / "predictions.jsonl").load(repair=False).values())
            assert not rescore_problems("match", predictions, read_scores(run / "scores" / "match"), instances)
        rescoring = time.perf_counter() - start
        start = time.perf_counter()
        build(subs, root / "site", instances=instances)
        site = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"instances per run: {n}; runs: {len(runs)}")
    print(
        f"match scoring: {scoring:.2f} s for {n * len(runs)} predictions "
        f"({n * len(runs) / scoring:.0f}/s, incl. reading instances)"
    )
    print(f"report (tables, 2000-resample bootstrap, PNG+SVG plots): {reporting:.2f} s")
    print(f"pack {len(runs)} submissions (each validated as packed): {packing:.2f} s")
    print(
        f"validate {len(runs)} submissions against the suite (schema, ids, secrets, match rescoring): "
        f"{trusting:.2f} s; of which match rescoring {rescoring:.2f} s"
    )
    print(f"leaderboard build (gold verification, validation with rescoring, tables, plots): {site:.2f} s")
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
