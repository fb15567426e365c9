"""The official HoloBench data format (Hugging Face dataset ``megagonlabs/holobench``).

``hub:owner/name@revision`` pins a revision (a commit, tag or branch); the commit it resolved to
is recorded in the suite manifest. An older revision names the soccer database ``scoccer_1``;
either name loads as ``soccer_1``.

One config per database with one split per table; each record has ``table_row`` (the row as a
JSON object string) and ``verbalized_text`` (its sentence).  A ``queries`` config has one split
per database with ``db_id``, ``query``, ``question``, ``difficulty``, ``query_type`` and one
boolean per category.  It loads through ``datasets`` (``pip install 'holobench[hub]'``) or from a
local export laid out as ``<root>/<config>/<split>.{parquet,jsonl,json}``,
``<root>/<config>/<split>-*.parquet`` or ``<root>/<config>/<split>/*.parquet``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from holobench.database import Database, load_table, lock_down, new_connection, schema_from
from holobench.errors import SourceError
from holobench.records import Category, Difficulty, Query
from holobench.sources.base import Source
from holobench.sources.coerce import Uncoercible, coerce, infer_type
from holobench.verbalize.generic import GenericVerbalizer

DEFAULT_REPO = "megagonlabs/holobench"
QUERIES_CONFIG = "queries"
# Names an older revision of the official dataset used; the database is soccer_1.
ALIASES = {"scoccer_1": "soccer_1"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?")
_DIFFICULTY = {"easy": "easy", "medium": "medium", "hard": "hard", "extra": "hard", "extra hard": "hard"}
_CATEGORY_FIELDS = {
    "Aggregation": Category.AGGREGATION,
    "Max/Min": Category.MAX_MIN,
    "Join": Category.JOIN,
    "Comparison": Category.COMPARISON,
    "Ranking": Category.RANKING,
}


class StoredVerbalizer:
    """Sentences that came with the data, in row order."""

    name = "stored"

    def __init__(self, sentences: Sequence[str]) -> None:
        self._sentences = [" ".join(s.split()) for s in sentences]

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        if len(rows) != len(self._sentences):
            raise SourceError(f"stored sentences cover {len(self._sentences)} rows, asked for {len(rows)}")
        return list(self._sentences)

    def fingerprint(self) -> str | None:
        return None  # the sentences are already at hand


class _Reader:
    """Where the records come from: a local export or the hub through ``datasets``."""

    def configs(self) -> list[str]:
        raise NotImplementedError

    def splits(self, config: str) -> dict[str, list[dict[str, Any]]]:
        raise NotImplementedError


class _LocalReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root

    def configs(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def splits(self, config: str) -> dict[str, list[dict[str, Any]]]:
        folder = self.root / config
        if not folder.is_dir():
            raise SourceError(f"{folder}: config folder not found")
        files: dict[str, list[Path]] = {}
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                parts = sorted(path.glob("*.parquet"))
                if parts:
                    files.setdefault(path.name, []).extend(parts)
            elif path.suffix in {".parquet", ".jsonl", ".json"}:
                split = re.sub(r"-\d{5}-of-\d{5}$", "", path.stem)
                files.setdefault(split, []).append(path)
        return {split: [r for p in paths for r in _read_records(p)] for split, paths in files.items()}


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path).to_dict(orient="records")  # type: ignore[no-any-return]
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
        return data if isinstance(data, list) else list(data.get("rows", []))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read records ({exc}); expected Parquet or JSON lines") from exc


class _DatasetsReader(_Reader):
    def __init__(self, repo: str, revision: str | None = None) -> None:
        try:
            import datasets
        except ImportError as exc:
            raise SourceError(
                f"loading {repo!r} from the hub needs the datasets library: pip install 'holobench[hub]' "
                "(or pass a local export folder)"
            ) from exc
        self._datasets = datasets
        self.repo = repo
        self.revision = revision

    def configs(self) -> list[str]:
        return list(self._datasets.get_dataset_config_names(self.repo, revision=self.revision))

    def splits(self, config: str) -> dict[str, list[dict[str, Any]]]:
        loaded = self._datasets.load_dataset(self.repo, config, revision=self.revision)
        return {split: [dict(r) for r in loaded[split]] for split in loaded}

    def commit(self) -> str | None:
        """The commit the revision resolves to (``main`` moves; a commit does not)."""
        try:
            from huggingface_hub import HfApi
        except ImportError:  # pragma: no cover - datasets depends on huggingface_hub
            return self.revision
        return str(HfApi().dataset_info(self.repo, revision=self.revision).sha)


class HubSource(Source):
    """``hub:<folder>`` (a local export) or ``hub:<owner/name>`` (through ``datasets``)."""

    name = "hub"

    @classmethod
    def from_location(cls, location: str, templates: Path | None = None) -> HubSource:
        """A local export when the path exists, else a hub dataset name (owner/name)."""
        path = Path(location).expanduser()
        return cls(location if not path.exists() else path)

    def __init__(self, location: str | Path = DEFAULT_REPO) -> None:
        self.location = str(location)
        path = Path(location)
        if path.is_dir():
            self._reader: _Reader = _LocalReader(path)
        else:
            repo, _, revision = self.location.partition("@")
            self._reader = _DatasetsReader(repo, revision or None)

    def describe(self) -> str:
        return f"hub:{self.location}"

    def revision(self) -> str | None:
        return self._reader.commit() if isinstance(self._reader, _DatasetsReader) else None

    def list_databases(self) -> list[str]:
        return [ALIASES.get(c, c) for c in self._reader.configs() if c != QUERIES_CONFIG]

    def _config(self, db_id: str) -> str:
        """The config that holds ``db_id`` (under its own name, or the one an old revision used)."""
        configs = self._reader.configs()
        return db_id if db_id in configs else next((c for c in configs if ALIASES.get(c) == db_id), db_id)

    def open(self, db_id: str) -> Database:
        if db_id not in self.list_databases():
            raise self._unknown(db_id)
        splits = self._reader.splits(self._config(db_id))
        con = new_connection()
        schemas = []
        notes: list[str] = []
        sentences: dict[str, list[str]] = {}
        for table, records in splits.items():
            rows, texts = [], []
            for i, rec in enumerate(records):
                try:
                    row = json.loads(rec["table_row"]) if isinstance(rec["table_row"], str) else rec["table_row"]
                    text = rec["verbalized_text"]
                    if not isinstance(text, str) or not text.strip():
                        raise ValueError("verbalized_text is empty or not a string")
                    texts.append(text)
                except (KeyError, TypeError, ValueError) as exc:
                    con.close()
                    raise SourceError(
                        f"{self.describe()}: {db_id}/{table} record {i} lacks a valid table_row/verbalized_text "
                        f"({exc}); each record needs both fields"
                    ) from exc
                if not isinstance(row, dict):
                    con.close()
                    raise SourceError(f"{self.describe()}: {db_id}/{table} record {i}: table_row is not a JSON object")
                rows.append(row)
            if not rows:
                notes.append(f"split {table!r} is empty; skipped")
                continue
            columns = list(dict.fromkeys(k for r in rows for k in r))
            typed = [(c, *_type_column([r.get(c) for r in rows])) for c in columns]
            load_table(con, table, [(c, t) for c, t, _ in typed], [v for _, _, v in typed])
            schemas.append(schema_from(table, [(c, t, "") for c, t, _ in typed], [], [], len(rows)))
            sentences[table] = texts
        lock_down(con)
        db = Database(db_id, con, schemas, origin=self.describe(), notes=notes, default_verbalizer=GenericVerbalizer)
        for table, texts in sentences.items():
            db.set_verbalizer(table, StoredVerbalizer(texts))
        return db

    def queries(self, db_id: str) -> list[Query]:
        if QUERIES_CONFIG not in self._reader.configs():
            return []
        splits = self._reader.splits(QUERIES_CONFIG)
        records = splits.get(db_id) or next((v for k, v in splits.items() if ALIASES.get(k) == db_id), [])
        return [hub_query(db_id, i, rec, self.describe()) for i, rec in enumerate(records)]


def _type_column(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """JSON values carry no declared type: infer one (dates and timestamps included)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "BOOLEAN", list(values)
    if present and all(isinstance(v, str) and _DATE.fullmatch(v) for v in present):
        kind = "DATE"
    elif present and all(isinstance(v, str) and _TIMESTAMP.fullmatch(v) for v in present):
        kind = "TIMESTAMP"
    elif present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        kind = infer_type(present)
    else:
        kind = "VARCHAR"
    try:
        return kind, [coerce(v, kind) for v in values]
    except Uncoercible:
        return "VARCHAR", [coerce(v, "VARCHAR") for v in values]


def hub_query(db_id: str, index: int, rec: Mapping[str, Any], where: str) -> Query:
    """One record of the ``queries`` config as a Query."""
    try:
        cats = [cat for field, cat in _CATEGORY_FIELDS.items() if bool(rec.get(field))]
        if not cats and rec.get("query_type"):
            listed = rec["query_type"]
            names = ast.literal_eval(listed) if isinstance(listed, str) else list(listed)
            cats = [_CATEGORY_FIELDS[n] for n in names]
        difficulty = _DIFFICULTY[str(rec.get("difficulty", "")).strip().lower()]
        return Query(
            id=f"{db_id}-hub{index:03d}",
            db_id=str(rec.get("db_id") or db_id),
            question=str(rec["question"]),
            sql=str(rec["query"]),
            categories=tuple(cats),
            difficulty=Difficulty(difficulty),
        )
    except (KeyError, ValueError, SyntaxError) as exc:
        raise SourceError(f"{where}: queries/{db_id} record {index} is not a valid query ({exc})") from exc
