"""A run folder's identity: its manifest, and moving a run with other settings aside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from holobench._io import atomic_write_text, naming
from holobench.batches import BATCHES_FILE
from holobench.errors import HoloBenchError
from holobench.records import RunManifest

#: What a run folder holds besides its lock: what ``--supersede`` moves aside.
RUN_FILES = ("manifest.json", "predictions.jsonl", BATCHES_FILE, "scores")


def check_manifest(out_dir: Path, manifest: dict[str, Any], supersede: bool = False) -> Path | None:
    """Write the run's manifest, refusing a folder that holds a run with other settings (or,
    with ``supersede``, moving that run into ``<out>/superseded/<n>/``: returned)."""
    path = out_dir / "manifest.json"
    manifest = json.loads(json.dumps(manifest))  # compare in JSON form (tuples become lists)
    moved = None
    if path.exists():
        try:
            old = RunManifest.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise HoloBenchError(f"{path}: not a run manifest; move it aside or use a new --out") from exc
        key = old.differs(RunManifest.model_validate(manifest))
        if key is not None and not supersede:
            raise HoloBenchError(
                f"{path}: this folder holds a run with a different {key}; use a new --out to keep both"
                " (or --supersede to move it into <out>/superseded/)"
            )
        if key is not None:
            moved = supersede_run(out_dir)
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return moved


def supersede_run(out_dir: Path) -> Path:
    """Move a finished run's files into a numbered folder under ``<out>/superseded/``: nothing
    of it is lost, and the folder starts afresh."""
    parent = out_dir / "superseded"
    parent.mkdir(exist_ok=True)
    number = 1 + max((int(p.name) for p in parent.iterdir() if p.name.isdigit()), default=0)
    target = parent / str(number)
    target.mkdir()
    for name in RUN_FILES:
        if (out_dir / name).exists():
            with naming(out_dir / name):
                (out_dir / name).rename(target / name)
    return target
