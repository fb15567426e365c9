"""Runs with known answers, for the scoring, report, submission and leaderboard tests."""

from __future__ import annotations

import json
from pathlib import Path

from holobench.jsonl import file_hash, read_instances
from holobench.records import Instance, Prediction


def faithful(instance: Instance, rows: int | None = None) -> str:
    gold = instance.gold.rows[:rows] if rows is not None else instance.gold.rows
    if not gold:
        return "I checked every sentence.\nFinal answer: none"
    lines = ["- " + ", ".join(str(v) for v in row) for row in gold]
    return "Going through the sentences one by one.\nFinal answer:\n" + "\n".join(lines)


def write_run(tmp_path: Path, instances: Path, *, model: str = "model-a", quality: int = 3) -> Path:
    """A run folder whose answers are right, half right or "No answer" in turn (``quality`` sets the
    mix); the first prediction is skipped as over-length and the second failed."""
    run = tmp_path / f"run-{model}"
    run.mkdir(parents=True, exist_ok=True)
    predictions = []
    for i, inst in enumerate(read_instances(instances)):
        base = {"id": inst.id, "backend": "openai", "model": model, "prompt": "cot"}
        if i == 0:
            predictions.append(Prediction(**base, status="skipped", skip_reason="context_length"))
        elif i == 1:
            predictions.append(Prediction(**base, status="error", error="HTTP 500: boom"))
        elif i % quality == 0:
            predictions.append(Prediction(**base, status="ok", response="Final answer: No answer"))
        elif i % quality == 1 or len(inst.gold.rows) < 2:
            predictions.append(Prediction(**base, status="ok", response=faithful(inst)))
        else:
            half = Prediction(**base, status="ok", response=faithful(inst, len(inst.gold.rows) // 2))
            predictions.append(half)
    (run / "predictions.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in predictions), encoding="utf-8")
    manifest = {
        "instances": str(instances),
        "instances_sha256": file_hash(instances),
        "backend": {"backend": "openai", "model": model, "base_url": "http://127.0.0.1:9/v1"},
        "prompt": "cot@test",
        "sampling": {"temperature": 0.0},
        "shard": None,
        "holobench_version": "0.1.0",
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run
