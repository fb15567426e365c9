"""``holobench merge``: shard folders of one run joined into one run folder.

Shards come from ``holobench run --shard i/N`` on one machine or many; their journals are
disjoint by construction, and a retry of failures in another folder is welcome: an answered
instance wins over an error, and two different answers to one instance are refused rather than
one being picked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from holobench._io import atomic_write_text
from holobench.errors import HoloBenchError
from holobench.journal import Journal
from holobench.jsonl import write_jsonl
from holobench.records import Prediction, RunManifest


def merge_runs(run_dirs: list[Path], out_dir: Path) -> dict[str, Any]:
    """Join shard folders of one run: same instances, backend, prompt and sampling."""
    if not run_dirs:
        raise HoloBenchError("merge needs at least one run folder")
    manifests: list[RunManifest] = []
    for d in run_dirs:
        path = d / "manifest.json"
        try:
            manifests.append(RunManifest.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise HoloBenchError(f"{path}: missing or unreadable manifest; is {d} a run folder?") from exc
    first = manifests[0]
    for d, m in zip(run_dirs[1:], manifests[1:], strict=True):
        key = m.differs(first, ("instances_sha256", "backend", "prompt", "closed_book", "sampling"))
        if key is not None:
            raise HoloBenchError(f"{d}: its {key} differs from {run_dirs[0]}'s; only shards of one run merge")
    merged: dict[str, Prediction] = {}
    origin: dict[str, Path] = {}
    for d in run_dirs:
        for pid, prediction in Journal(d / "predictions.jsonl").load(repair=False).items():
            held = merged.get(pid)
            if held is not None and held.status == "ok" and prediction.status == "ok":
                if held.response != prediction.response:  # silently keeping one would pick a score
                    raise HoloBenchError(
                        f"{d / 'predictions.jsonl'}: instance {pid} is answered differently in {origin[pid]}; "
                        "merge only disjoint shards (or a retry of failures), or remove one of the two"
                    )
                continue
            if held is None or held.status != "ok":
                merged[pid], origin[pid] = prediction, d
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "predictions.jsonl", (merged[pid] for pid in sorted(merged)))
    manifest = {**first.model_dump(exclude_unset=True), "shard": None, "merged_from": [str(d) for d in run_dirs]}
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {"predictions": len(merged), "runs": len(run_dirs)}
