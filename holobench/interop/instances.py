"""The instances an evaluation in another harness runs: from a file or folder holobench wrote,
or from a suite generated on the spot (with a cut, since a whole suite takes a while)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from holobench.errors import HoloBenchError
from holobench.export import instances_file
from holobench.jsonl import read_instances
from holobench.records import Instance
from holobench.suite import QuerySelection, generate_suite, load_suite
from holobench.suite_file import parse_length


class InstanceSource(BaseModel):
    """Where a task's instances come from; the task arguments a harness passes, checked once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str = Field(default="smoke", description="a bundled suite's name or a suite file, generated when no path")
    instances: Path | None = Field(
        default=None, description="an instances.jsonl, a suite folder, or an export folder ('holobench export')"
    )
    lengths: tuple[int, ...] = Field(default=(), description="keep these target lengths only (all when empty)")
    queries: tuple[str, ...] = Field(default=(), description="keep these query ids only (all when empty)")


def _listed(value: str | Sequence[str | int] | None) -> tuple[str, ...]:
    """A task argument that is one value, a comma-separated list, or a list."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(item.strip() for item in items if item.strip())


def instance_source(
    suite: str = "smoke",
    instances: str | None = None,
    lengths: str | Sequence[str | int] | None = None,
    queries: str | Sequence[str] | None = None,
) -> InstanceSource:
    """The source described by a harness's task arguments (``lengths="1k,4k"``, ``queries=[...]``)."""
    try:
        sizes = tuple(parse_length(v) for v in _listed(lengths))
    except ValueError as exc:
        raise HoloBenchError(f"lengths={lengths!r}: {exc}") from None
    path = Path(instances).expanduser() if instances else None
    return InstanceSource(suite=suite, instances=path, lengths=sizes, queries=_listed(queries))


def _file_of(path: Path) -> Path:
    if path.is_dir() and (path / "instances.jsonl").is_file():
        return path / "instances.jsonl"
    return path


def _kept(source: InstanceSource, instance: Instance) -> bool:
    return (not source.lengths or instance.config.target_tokens in source.lengths) and (
        not source.queries or instance.query_id in source.queries
    )


def task_instances(source: InstanceSource) -> list[Instance]:
    """The instances, in the suite's order: read from ``source.instances``, else generated from
    ``source.suite`` (cut to the lengths and queries asked for) in a temporary folder."""
    if source.instances is not None:
        if not source.instances.exists():
            raise HoloBenchError(
                f"instances={source.instances}: no such file or folder; give an instances.jsonl, "
                "a suite folder or an export folder"
            )
        with instances_file(_file_of(source.instances)) as path:
            found = [i for i in read_instances(path) if _kept(source, i)]
    else:
        found = _generated(source)
    if not found:
        raise HoloBenchError(
            f"{source.instances or source.suite}: no instances at lengths {list(source.lengths) or 'any'} "
            f"and queries {list(source.queries) or 'any'}; widen the cut"
        )
    return found


def _generated(source: InstanceSource) -> list[Instance]:
    suite = load_suite(source.suite)
    update: dict[str, object] = {}
    if source.lengths:
        update["lengths"] = source.lengths
    if source.queries:
        update["queries"] = QuerySelection(ids=source.queries)
    with tempfile.TemporaryDirectory(prefix="holobench-suite-") as tmp:
        generate_suite(suite.model_copy(update=update), Path(tmp))
        return list(read_instances(Path(tmp) / "instances.jsonl"))
