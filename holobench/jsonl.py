"""Reading JSON-lines records: one reader, for instances, journals and score files alike.

Every record holobench writes to JSONL starts with its id (``{"id":"...``), so readers can skip
records by id without parsing them: resume and shards read 64k-token instances cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar, overload

from pydantic import BaseModel

from holobench._io import atomic_write_text
from holobench.errors import HoloBenchError
from holobench.records import Instance


def leading_id(line: str) -> str | None:
    """Records are written with their id first, so it can be read without parsing the record."""
    return line[7 : line.index('"', 7)] if line.startswith('{"id":"') else None


RecordT = TypeVar("RecordT", bound=BaseModel)


def read_jsonl(
    path: Path,
    model: type[RecordT],
    *,
    record: str,
    file: str,
    records: str,
    missing: str = "",
    skip: Callable[[str], bool] | None = None,
) -> Iterator[RecordT]:
    """Stream ``path`` as ``model`` records. A bad line is an error naming the file, the line and
    what it should be (``record``: "an instance record"; ``file``: "an instances.jsonl";
    ``records``: "instances"); ``missing`` tells how to get the file. ``skip(id)`` drops records
    before they are parsed."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise HoloBenchError(f"{path}: cannot read {records} ({exc.strerror}){missing}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise HoloBenchError(f"{path}:{number}: not UTF-8 text; is this {file}?") from None
            if not line.strip():
                continue
            iid = leading_id(line)
            if skip is not None and iid is not None and skip(iid):
                continue
            try:
                value = model.model_validate_json(line)
            except ValueError as exc:
                raise HoloBenchError(f"{path}:{number}: not {record} ({str(exc).splitlines()[0]})") from exc
            if skip is None or not skip(getattr(value, "id", "")):
                yield value


@overload
def read_instances(path: Path, skip: Callable[[str], bool] | None = None) -> Iterator[Instance]: ...


@overload
def read_instances(path: Path, skip: Callable[[str], bool] | None, model: type[RecordT]) -> Iterator[RecordT]: ...


def read_instances(
    path: Path, skip: Callable[[str], bool] | None = None, model: type[BaseModel] = Instance
) -> Iterator[BaseModel]:
    """Stream an instances file, each record as ``model`` (a lighter view such as
    :class:`PromptItem` skips the parts a stage does not need)."""
    return read_jsonl(
        path,
        model,
        record="an instance record",
        file="an instances.jsonl",
        records="instances",
        missing="; generate them first",
        skip=skip,
    )


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> None:
    """One record a line, id first as every model declares it, written atomically: a crash or a
    full disk leaves the previous file or the new one, never half of it."""
    atomic_write_text(path, "".join(r.model_dump_json() + "\n" for r in records))
