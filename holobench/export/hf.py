"""A suite folder as a Hugging Face dataset folder (Parquet shards, a card, a manifest), and
back. ``datasets.load_dataset(folder)`` loads it offline and ``hf upload`` publishes it; the
reader gives back instances equal to the exported ones, in the suite's order.

Layout::

    README.md                        dataset card (configs, features, licences, generation)
    holobench-export.json            ExportManifest: splits, shards, the suite's manifest
    data/len_<N>-00000-of-0000K.parquet

Instances stream through: a split's rows are buffered into row groups and a shard is closed
once it holds about :data:`SHARD_BYTES` of JSON, so memory stays bounded on 128k-token suites.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from holobench._io import staged_dir
from holobench._version import __version__
from holobench.errors import HoloBenchError
from holobench.export.card import render_card, source_licence
from holobench.export.schema import COLUMNS, arrow_schema, from_row, to_row
from holobench.jsonl import file_hash, read_instances
from holobench.records import ExportManifest, ExportSplit, Instance

MANIFEST = "holobench-export.json"
SHARD_BYTES = 256 << 20
ROW_GROUP = 32


def split_name(target_tokens: int) -> str:
    return f"len_{target_tokens}"


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise HoloBenchError("export needs pyarrow: pip install 'holobench[hub]'") from None
    return pq


class _SplitWriter:
    """The shards of one split, written one after another into ``data/``."""

    def __init__(self, folder: Path, name: str, target_tokens: int) -> None:
        self.folder, self.name = folder, name
        self.split = ExportSplit(target_tokens=target_tokens, rows=0)
        self.rows: list[dict[str, Any]] = []
        self.writer: Any = None
        self.bytes = 0

    def add(self, row: dict[str, Any], size: int) -> None:
        if self.bytes and self.bytes + size > SHARD_BYTES:
            self.close()
        self.rows.append(row)
        self.bytes += size
        self.split.rows += 1
        if len(self.rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.writer is None:
            path = self.folder / f"{self.name}-{len(self.split.files):05d}.parquet"
            self.split.files.append(path.name)
            self.writer = _pyarrow().ParquetWriter(path, arrow_schema(), compression="zstd")
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=arrow_schema())
            self.split.num_bytes += table.nbytes
            self.writer.write_table(table)
        self.rows = []

    def close(self) -> None:
        """End the current shard (if any rows are pending or written)."""
        if self.rows or self.writer is not None:
            self._flush()
            self.writer.close()
        self.writer, self.bytes = None, 0

    def finish(self) -> ExportSplit:
        """Close the last shard and give the shards their final ``-NNNNN-of-MMMMM`` names."""
        self.close()
        total, names = len(self.split.files), []
        for i, name in enumerate(self.split.files):
            final = f"{self.name}-{i:05d}-of-{total:05d}.parquet"
            (self.folder / name).rename(self.folder / final)
            names.append(f"data/{final}")
        self.split.files = names
        return self.split


def _read_manifest(folder: Path, name: str, fallback: dict[str, Any]) -> dict[str, Any]:
    path = folder / name
    if not path.is_file():
        return fallback
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HoloBenchError(f"{path}: not readable JSON ({exc}); restore it or regenerate") from exc
    if not isinstance(data, dict):
        raise HoloBenchError(f"{path}: not a manifest (a JSON object); restore it or regenerate")
    return data


def export_hf(suite_dir: Path, out: Path) -> ExportManifest:
    """Write ``suite_dir`` (a folder with instances.jsonl and manifest.json) as a dataset folder
    at ``out``; nothing is left at ``out`` unless every file was written."""
    instances = suite_dir / "instances.jsonl"
    if not instances.is_file():
        raise HoloBenchError(f"{suite_dir}: no instances.jsonl; give a suite folder from 'holobench generate'")
    _pyarrow()
    from holobench.sources.bundled import data_root

    manifest = ExportManifest(
        holobench_version=__version__,
        instances_sha256=file_hash(instances),
        suite_manifest=_read_manifest(suite_dir, "manifest.json", {}),
    )
    databases: dict[str, str] = {}
    with staged_dir(out, "export") as stage:
        (stage / "data").mkdir()
        writers: dict[int, _SplitWriter] = {}
        for index, instance in enumerate(read_instances(instances)):
            tokens = instance.config.target_tokens
            if tokens not in writers:
                writers[tokens] = _SplitWriter(stage / "data", split_name(tokens), tokens)
            writers[tokens].add(to_row(instance, index), len(instance.context) + 200 * len(instance.lines))
            databases.setdefault(instance.db_id, instance.source)
            manifest.instances += 1
        if not manifest.instances:
            raise HoloBenchError(f"{instances}: holds no instances; nothing to export")
        manifest.splits = {split_name(t): writers[t].finish() for t in sorted(writers)}
        root = _data_root(data_root)
        licences = {db: source_licence(db, source, root) for db, source in databases.items()}
        (stage / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        (stage / "README.md").write_text(render_card(manifest, licences), encoding="utf-8")
    return manifest


def _data_root(find: Any) -> Path | None:
    try:
        return Path(find())
    except HoloBenchError:
        return None


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(folder: Path) -> ExportManifest:
    if not is_export(folder):
        raise HoloBenchError(f"{folder}: no {MANIFEST}; give a folder written by 'holobench export --format hf'")
    try:
        return ExportManifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        raise HoloBenchError(f"{folder / MANIFEST}: not an export manifest ({reason}); export again") from exc


def _split_rows(folder: Path, split: ExportSplit) -> Iterator[dict[str, Any]]:
    pq = _pyarrow()
    for name in split.files:
        path = folder / name
        try:
            shard = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:
            raise HoloBenchError(f"{path}: cannot read the shard ({exc}); export again") from exc
        missing = [c for c in COLUMNS if c not in shard.schema_arrow.names]
        if missing:
            raise HoloBenchError(f"{path}: has no column {missing[0]!r}; not a holobench export shard")
        for batch in shard.iter_batches(batch_size=ROW_GROUP, columns=list(COLUMNS)):
            yield from batch.to_pylist()


def read_export(folder: Path) -> Iterator[Instance]:
    """The exported instances, in the suite's order (splits merged by ``suite_index``)."""
    manifest = read_manifest(folder)
    streams = [_split_rows(folder, split) for split in manifest.splits.values()]
    count = 0
    for row in heapq.merge(*streams, key=lambda r: int(r["suite_index"])):
        try:
            yield from_row(row)
        except ValueError as exc:
            reason = str(exc).splitlines()[0]
            raise HoloBenchError(f"{folder}: row {row.get('id')!r} is not an instance ({reason})") from exc
        count += 1
    if count != manifest.instances:
        raise HoloBenchError(f"{folder}: holds {count} instances, its manifest says {manifest.instances}; export again")
