"""Suites in the formats researchers load elsewhere, and back.

``export_hf`` writes a Hugging Face dataset folder; ``write_suite`` writes such a folder back
as a suite folder (instances.jsonl, byte for byte, and manifest.json); ``instances_file``
lets any command that reads an instances file take an export folder instead.
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
from holobench.suite import instance_json

FORMATS = ("hf", "jsonl")

__all__ = ["FORMATS", "MANIFEST", "export", "export_hf", "instances_file", "is_export", "read_export", "write_suite"]


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
    if fmt == "hf":
        written = export_hf(source, out)
        splits = ", ".join(f"{name} ({split.rows})" for name, split in written.splits.items())
        return f"wrote {written.instances} instances to {out} (splits: {splits}); load with datasets.load_dataset"
    exact = write_suite(source, out)
    same = "identical to" if exact else "equal records to, but not the bytes of,"
    return f"wrote {out / 'instances.jsonl'}, {same} the instances.jsonl exported"


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
