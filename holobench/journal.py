"""The predictions journal: append-only JSONL that survives crashes and resumes by id."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from holobench._io import naming
from holobench.errors import HoloBenchError
from holobench.records import Prediction


class Journal:
    """Append-only JSONL of predictions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, repair: bool = True) -> dict[str, Prediction]:
        """Latest record per id; a torn last line is cut off (when ``repair``) and ignored."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            if repair:
                with self.path.open("r+b") as fh:
                    fh.truncate(keep)
            data = data[:keep]
        records: dict[str, Prediction] = {}
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                record = Prediction.model_validate_json(line)
            except ValueError as exc:
                raise HoloBenchError(f"{self.path}:{number}: corrupt journal record; move the file aside") from exc
            records[record.id] = record
        return records

    def open(self) -> JournalWriter:
        return JournalWriter(self.path)


class JournalWriter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("a", encoding="utf-8")

    def write(self, prediction: Prediction) -> None:
        with naming(self.path):
            self._fh.write(prediction.model_dump_json() + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Flush and close; a journal left empty (the first write failed) is removed."""
        try:
            with naming(self.path):
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
        finally:
            with contextlib.suppress(OSError):  # after a failed write, close re-raises the same error
                self._fh.close()
            if self.path.exists() and self.path.stat().st_size == 0:
                self.path.unlink()
