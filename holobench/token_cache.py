"""Token counts of a table's sentences, kept on disk between runs.

Counting every row of a database is most of what one ad-hoc ``holobench generate --sql ...``
call does (seconds for a Spider database), and every worker process of a suite repeats it.
The counts are stored under the SHA-256 of the tokenizer's file and of the sentences themselves,
so a changed row, template or tokenizer can never be served a stale count, and no database or
verbalizer needs a version of its own.

Location: ``$HOLOBENCH_CACHE_DIR/token-counts`` (default ``~/.cache/holobench``); ``HOLOBENCH_CACHE_DIR=off``
turns it off. A damaged file is ignored and rewritten; writes are atomic.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Sequence
from pathlib import Path

from holobench.errors import HoloBenchError
from holobench.tokenizers import Tokenizer, count_many, tokenizer_fingerprint

_ENV = "HOLOBENCH_CACHE_DIR"


def cache_root() -> Path | None:
    """Where holobench keeps caches between runs, or None when turned off."""
    value = os.environ.get(_ENV, "")
    if value.lower() in {"off", "none", "0"}:
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "holobench"


def count_lines(tokenizer: Tokenizer, texts: Sequence[str], separator: str) -> tuple[list[int], list[int]]:
    """(tokens of each text alone, tokens of each text followed by ``separator``)."""
    path = _path(tokenizer, texts, separator)
    if path is not None:
        found = _read(path, len(texts))
        if found is not None:
            return found
    alone = count_many(tokenizer, list(texts))
    with_sep = count_many(tokenizer, [t + separator for t in texts])
    if path is not None:
        _write(path, alone, with_sep)
    return alone, with_sep


def _path(tokenizer: Tokenizer, texts: Sequence[str], separator: str) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    try:
        fingerprint = tokenizer_fingerprint(tokenizer.name)["sha256"]
    except HoloBenchError:
        return None  # a tokenizer holobench cannot name again: nothing to key the counts by
    if not fingerprint:
        return None
    digest = hashlib.sha256()
    digest.update(f"{len(texts)}\x00{separator}\x00".encode())
    for text in texts:  # one line each: a newline cannot occur inside a sentence
        digest.update(text.encode("utf-8"))
        digest.update(b"\n")
    return root / "token-counts" / fingerprint[:16] / f"{digest.hexdigest()}.bin"


def _read(path: Path, n: int) -> tuple[list[int], list[int]] | None:
    try:
        data = array("I")
        data.frombytes(path.read_bytes())
    except (OSError, ValueError):
        return None
    if len(data) != 2 * n:
        return None
    return data[:n].tolist(), data[n:].tolist()


def _write(path: Path, alone: list[int], with_sep: list[int]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(array("I", [*alone, *with_sep]).tobytes())
        tmp.replace(path)
    except OSError:
        pass  # a read-only or full disk only costs the next run the counting
