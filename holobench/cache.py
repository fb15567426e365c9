"""A small on-disk key-value cache (SQLite), shared by the runner and the LLM verbalizer.

SQLite gives atomic writes and safe concurrent readers, so a killed run never leaves a corrupt
cache and two processes can share one.  Keys are hashes of everything that determines a
response; values are JSON text.  Secrets are never part of a key or a value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from holobench.errors import HoloBenchError


def cache_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        with self._failing("cannot be opened"):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT NOT NULL)")
            self._con.commit()

    @contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        """A cache on a full, read-only or corrupt disk is one clear error, not a traceback."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise HoloBenchError(
                f"{self.path}: the response cache {what} ({exc}); free space, choose another --cache-dir, "
                "or pass --no-cache"
            ) from exc

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._con.execute("SELECT text FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, text: str) -> None:
        with self._lock, self._failing("cannot be written"):
            self._con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, text))
            self._con.commit()

    def __len__(self) -> int:
        with self._lock:
            row = self._con.execute("SELECT count(*) FROM responses").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._con.close()
