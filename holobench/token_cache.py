"""A table's sentences and their token counts, kept on disk between runs.

Verbalizing and counting every row of a database is most of what one ad-hoc ``holobench
generate --sql ...`` call does (seconds for a Spider database), and every worker process of a
suite repeats it. Two content-addressed stores, so nothing stale can be served:

* ``table-lines``: sentences and counts under the SHA-256 of the table's rows, the verbalizer's
  fingerprint (its code, template and settings) and the tokenizer's file;
* ``token-counts``: counts under the SHA-256 of the sentences themselves and the tokenizer's
  file, for verbalizers without a fingerprint (an LLM).

Location: ``$HOLOBENCH_CACHE_DIR/token-counts`` (default ``~/.cache/holobench``); ``HOLOBENCH_CACHE_DIR=off``
turns it off. A damaged file is ignored and rewritten; writes are atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from array import array
from collections.abc import Sequence
from pathlib import Path

from holobench.database import Database
from holobench.errors import HoloBenchError
from holobench.tokenizers import Tokenizer, count_many, tokenizer_fingerprint

_ENV = "HOLOBENCH_CACHE_DIR"


def cache_root() -> Path | None:
    """Where holobench keeps caches between runs, or None when turned off."""
    value = os.environ.get(_ENV, "")
    if value.lower() in {"off", "none", "0"}:
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "holobench"


def table_lines(
    db: Database, table: str, tokenizer: Tokenizer, separator: str
) -> tuple[list[str], list[int], list[int]]:
    """(sentences, tokens of each alone, tokens of each followed by ``separator``) of a table."""
    path = _table_path(db, table, tokenizer, separator)
    if path is not None:
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            texts, alone, with_sep = found["texts"], found["alone"], found["with_sep"]
            if len(texts) == len(alone) == len(with_sep) == db.row_count(table):
                return texts, alone, with_sep
        except (OSError, ValueError, KeyError, TypeError):
            pass  # absent or damaged: rebuilt below
    texts = db.sentences(table)
    alone, with_sep = count_lines(tokenizer, texts, separator)
    if path is not None:
        _write_bytes(path, json.dumps({"texts": texts, "alone": alone, "with_sep": with_sep}).encode("utf-8"))
    return texts, alone, with_sep


def _table_path(db: Database, table: str, tokenizer: Tokenizer, separator: str) -> Path | None:
    root = cache_root()
    verbalizer = db.verbalizer(table).fingerprint()
    tokens = _tokenizer_hash(tokenizer)
    if root is None or verbalizer is None or tokens is None:
        return None
    digest = hashlib.sha256(f"{verbalizer}\x00{tokens}\x00{separator}\x00".encode())
    for row in db.rows(table):
        digest.update(repr(row).encode("utf-8"))
        digest.update(b"\n")
    return root / "table-lines" / f"{digest.hexdigest()}.json"


def _tokenizer_hash(tokenizer: Tokenizer) -> str | None:
    try:
        return tokenizer_fingerprint(tokenizer.name)["sha256"] or None
    except HoloBenchError:
        return None  # a tokenizer holobench cannot name again: nothing to key the counts by


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
    fingerprint = _tokenizer_hash(tokenizer)
    if fingerprint is None:
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
    _write_bytes(path, array("I", [*alone, *with_sep]).tobytes())


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:  # a read-only or full disk only costs the next run the work
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
