"""Spider and BIRD layout: ``database/<db_id>/<db_id>.sqlite`` plus an optional ``tables.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from holobench.database import Database
from holobench.errors import SourceError
from holobench.records import ForeignKey
from holobench.sources.base import Source
from holobench.sources.sqlite import KeyHints, load_sqlite, sqlite_tables
from holobench.verbalize.templates import attach_templates

_DB_DIRS = ("database", "dev_databases", "train_databases")
_SCHEMA_FILES = ("tables.json", "dev_tables.json", "train_tables.json")


class SpiderSource(Source):
    """A Spider (or BIRD) folder.  ``templates`` may hold ``<db_id>/<table>.j2`` files."""

    name = "spider"
    takes_templates = True

    @classmethod
    def from_location(cls, location: str, templates: Path | None = None) -> SpiderSource:
        return cls(Path(location).expanduser(), templates=templates)

    def __init__(self, root: Path, templates: Path | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(
                f"{self.root}: Spider folder not found; pass the folder holding database/ and tables.json"
            )
        self.db_root = next((self.root / d for d in _DB_DIRS if (self.root / d).is_dir()), self.root)
        self.templates = templates
        self._schema = self._read_schema_file()

    def describe(self) -> str:
        return f"spider:{self.root}"

    def _read_schema_file(self) -> dict[str, dict[str, Any]]:
        path = next((self.root / f for f in _SCHEMA_FILES if (self.root / f).is_file()), None)
        if path is None:
            return {}
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            return {e["db_id"]: e for e in entries}
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise SourceError(
                f"{path}: not a Spider schema file ({exc}); expected a list of objects with db_id"
            ) from exc

    def list_databases(self) -> list[str]:
        return sorted(p.parent.name for p in self.db_root.glob("*/*.sqlite") if p.stem == p.parent.name)

    def sqlite_path(self, db_id: str) -> Path:
        return self.db_root / db_id / f"{db_id}.sqlite"

    def open(self, db_id: str) -> Database:
        path = self.sqlite_path(db_id)
        if not path.is_file():
            raise self._unknown(db_id)
        hints, notes = self._hints(db_id, sqlite_tables(path))
        db = load_sqlite(path, db_id, origin=self.describe(), hints=hints)
        db.notes.extend(notes)
        if self.templates is not None:
            attach_templates(db, self.templates / db_id)
        return db

    def _hints(self, db_id: str, present: list[str]) -> tuple[KeyHints, list[str]]:
        """Keys from tables.json; tables it lists that the file lacks are errors, except SQLite's own."""
        entry = self._schema.get(db_id)
        if entry is None:
            return KeyHints(), []
        try:
            return self._parse_hints(db_id, entry, present)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise SourceError(
                f"{self.root}/tables.json: entry for {db_id!r} is malformed ({type(exc).__name__}: {exc}); "
                "it needs table_names_original, column_names_original, primary_keys and foreign_keys"
            ) from exc

    def _parse_hints(self, db_id: str, entry: dict[str, Any], present: list[str]) -> tuple[KeyHints, list[str]]:
        notes: list[str] = []
        tables: list[str] = entry["table_names_original"]
        have = {t.lower() for t in present}
        for t in tables:
            if t.lower() in have:
                continue
            if t.lower().startswith("sqlite_"):
                notes.append(f"tables.json lists SQLite's internal table {t!r}, which the file lacks; ignored")
                continue
            raise SourceError(
                f"{self.root}/tables.json: table {t!r} of {db_id!r} is not in {self.sqlite_path(db_id)}; "
                "fix tables.json or the SQLite file"
            )
        cols: list[tuple[int, str]] = [(int(t), str(c)) for t, c in entry["column_names_original"]]

        def col(i: int) -> tuple[str, str]:
            if not 0 <= i < len(cols) or not 0 <= cols[i][0] < len(tables):
                raise IndexError(f"column index {i} is out of range")
            t, c = cols[i]
            return tables[t], c

        primary: dict[str, list[str]] = {}
        for pk in entry.get("primary_keys", []):
            for i in pk if isinstance(pk, list) else [pk]:
                t, c = col(i)
                primary.setdefault(t, []).append(c)
        foreign: dict[str, list[ForeignKey]] = {}
        for src, dst in entry.get("foreign_keys", []):
            (t, c), (rt, rc) = col(src), col(dst)
            foreign.setdefault(t, []).append(ForeignKey(column=c, ref_table=rt, ref_column=rc))
        return KeyHints(primary, foreign), notes
