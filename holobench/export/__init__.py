"""Suites in the formats researchers load elsewhere, and back.

``export_hf`` writes a Hugging Face dataset folder; ``write_suite`` writes such a folder back
as a suite folder (instances.jsonl, byte for byte, and manifest.json); ``export_lm_eval``
writes an lm-evaluation-harness task folder; ``instances_file`` lets any command that reads an
instances file take an export folder instead.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from holobench._io import staged_dir
from holobench.errors import HoloBenchError
from holobench.export.hf import MANIFEST, export_hf, is_export, read_export, read_manifest
from holobench.export.lm_eval import export_lm_eval
from holobench.suite import instance_json

FORMATS = ("hf", "jsonl", "lm-eval")

__all__ = [
    "FORMATS",
    "MANIFEST",
    "export",
    "export_hf",
    "export_lm_eval",
    "instances_file",
    "is_export",
    "read_export",
    "write_suite",
]


def _write_instances(folder: Path, target: Path) -> str:
    """``target`` gets the export's instances as holobench writes them; returns its sha256."""
    digest = hashlib.sha256()
    with target.open("w", encoding="utf-8") as fh:
        for instance in read_export(folder):
            line = instance_json(instance) + "\n"
            digest.update(line.encode("utf-8"))
            fh.write(line)
    return digest.hexdigest()


def write_suite(folder: Path, out: Path) -> bool:
    """Write export ``folder`` back as a suite folder at ``out``; True when its instances.jsonl
    is byte for byte the one exported (False: it came from an older holobench's records)."""
    manifest = read_manifest(folder)
    with staged_dir(out, "suite") as stage:
        digest = _write_instances(folder, stage / "instances.jsonl")
        if manifest.suite_manifest:
            text = json.dumps(manifest.suite_manifest, indent=2, sort_keys=True) + "\n"
            (stage / "manifest.json").write_text(text, encoding="utf-8")
    return digest == manifest.instances_sha256


def export(source: Path, out: Path, fmt: str) -> str:
    """``holobench export``: one line saying what was written."""
    if fmt not in FORMATS:
        raise HoloBenchError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    if fmt == "lm-eval":
        return _export_lm_eval(source, out)
    if fmt == "hf":
        written = export_hf(source, out)
        splits = ", ".join(f"{name} ({split.rows})" for name, split in written.splits.items())
        return f"wrote {written.instances} instances to {out} (splits: {splits}); load with datasets.load_dataset"
    exact = write_suite(source, out)
    same = "identical to" if exact else "equal records to, but not the bytes of,"
    return f"wrote {out / 'instances.jsonl'}, {same} the instances.jsonl exported"


def suite_name(source: Path) -> str:
    """The suite's name from its manifest (a suite folder's, or the one an export carries), else
    the folder's name."""
    manifest: dict[str, object] = {}
    if is_export(source):
        manifest = read_manifest(source).suite_manifest
    elif (source / "manifest.json").is_file():
        try:
            manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HoloBenchError(
                f"{source / 'manifest.json'}: not readable JSON ({exc}); restore it or regenerate"
            ) from exc
    suite = manifest.get("suite") if isinstance(manifest, dict) else None
    name = suite.get("name") if isinstance(suite, dict) else None
    return name if isinstance(name, str) and name else source.resolve().name


def _export_lm_eval(source: Path, out: Path) -> str:
    if not (source / "instances.jsonl").is_file() and not is_export(source):
        raise HoloBenchError(
            f"{source}: no instances.jsonl; give a suite folder from 'holobench generate' or an export folder"
        )
    with instances_file(source if is_export(source) else source / "instances.jsonl") as instances:
        if not any(line.strip() for line in instances.open(encoding="utf-8")):
            raise HoloBenchError(f"{instances}: holds no instances; nothing to export")
        task = export_lm_eval(instances, suite_name(source), out)
    run = f"lm_eval --include_path {out} --tasks {task.task}"
    return f"wrote task {task.task} ({task.instances} instances) to {out}; run it with {run}"


@contextmanager
def instances_file(path: Path) -> Iterator[Path]:
    """``path`` itself, or for an export folder a temporary instances.jsonl written from it (the
    same bytes as the exported file, so a run manifest's instances hash still matches)."""
    if not is_export(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="holobench-export-") as tmp:
        target = Path(tmp) / "instances.jsonl"
        _write_instances(path, target)
        yield target
