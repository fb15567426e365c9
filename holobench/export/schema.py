"""One instance as one flat Parquet row, and back.

Arrow needs one type per column, so the parts of an instance that have no fixed type are
stored as JSON text: each gold row is one JSON array (``gold_rows``), beside its column names
(``gold_columns``). Config and stats fields become top-level columns (a reader filters on
``target_tokens`` without unnesting); line provenance stays a list of structs. ``suite_index``
is the record's 0-based line in the suite's ``instances.jsonl``, so splits merge back into the
suite's order. :data:`COLUMNS` is the single description both directions and the dataset card
read; a test checks it names every field of :class:`Instance`.
"""

from __future__ import annotations

import json
from typing import Any

from holobench.records import Instance

#: column -> (type, where in the instance record it comes from); types use the ``datasets``
#: feature names (string, int64, float64, bool), lists as ``[type]`` and structs as dicts
COLUMNS: dict[str, tuple[Any, str]] = {
    "suite_index": ("int64", "-"),
    "id": ("string", "id"),
    "db_id": ("string", "db_id"),
    "source": ("string", "source"),
    "query_id": ("string", "query_id"),
    "question": ("string", "question"),
    "sql": ("string", "sql"),
    "categories": (["string"], "categories"),
    "difficulty": ("string", "difficulty"),
    "context": ("string", "context"),
    "gold_columns": (["string"], "gold.columns"),
    "gold_rows": (["string"], "gold.rows"),
    "tokenizer": ("string", "config.tokenizer"),
    "target_tokens": ("int64", "config.target_tokens"),
    "info_amount": ("int64", "config.info_amount"),
    "info_density": ("float64", "config.info_density"),
    "placement": ("string", "config.placement"),
    "seed": ("int64", "config.seed"),
    "sampling": ("string", "config.sampling"),
    "positives": ("float64", "config.positives"),
    "tokens": ("int64", "stats.tokens"),
    "relevant_tokens": ("int64", "stats.relevant_tokens"),
    "relevant_rows": ("int64", "stats.relevant_rows"),
    "auxiliary_rows": ("int64", "stats.auxiliary_rows"),
    "filler_rows": ("int64", "stats.filler_rows"),
    "answer_rows": ("int64", "stats.answer_rows"),
    "lines": ([{"table": "string", "row": "int64", "relevant": "bool", "db": "string", "answer": "bool"}], "lines"),
    "answerable": ("bool", "answerable"),
    "perturbation": ({"seed": "int64", "kinds": ["string"], "version": "int64"}, "perturbation"),
}

_GROUPS = ("config", "stats")


def arrow_schema() -> Any:
    """The Parquet schema of every shard (pyarrow is imported here: it is an optional dependency)."""
    import pyarrow as pa

    def arrow(kind: Any) -> Any:
        if isinstance(kind, list):
            return pa.list_(arrow(kind[0]))
        if isinstance(kind, dict):
            return pa.struct([(name, arrow(sub)) for name, sub in kind.items()])
        return {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}[kind]

    return pa.schema([(name, arrow(kind)) for name, (kind, _) in COLUMNS.items()])


def yaml_features() -> list[dict[str, Any]]:
    """The ``dataset_info.features`` list of the card, in the form ``datasets`` writes it."""

    def feature(name: str, kind: Any) -> dict[str, Any]:
        if isinstance(kind, list) and isinstance(kind[0], dict):
            return {"name": name, "list": [feature(n, k) for n, k in kind[0].items()]}
        if isinstance(kind, list):
            return {"name": name, "list": kind[0]}
        if isinstance(kind, dict):
            return {"name": name, "struct": [feature(n, k) for n, k in kind.items()]}
        return {"name": name, "dtype": kind}

    return [feature(name, kind) for name, (kind, _) in COLUMNS.items()]


def to_row(instance: Instance, index: int) -> dict[str, Any]:
    """The flat row of one instance (``index``: its line in instances.jsonl)."""
    record = instance.model_dump(mode="json")
    row: dict[str, Any] = {"suite_index": index}
    for name, (_, origin) in COLUMNS.items():
        if origin == "-":
            continue
        head, _, tail = origin.partition(".")
        row[name] = record[head][tail] if tail else record[head]
    row["gold_rows"] = [json.dumps(r, ensure_ascii=False) for r in instance.gold.rows]
    return row


def from_row(row: dict[str, Any]) -> Instance:
    """The instance a row was made from; equal to the original, field for field."""
    record: dict[str, Any] = {group: {} for group in _GROUPS}
    for name, (_, origin) in COLUMNS.items():
        if origin == "-":
            continue
        head, _, tail = origin.partition(".")
        if head == "gold":
            continue
        if tail:
            record[head][tail] = row[name]
        else:
            record[head] = row[name]
    record["gold"] = {"columns": row["gold_columns"], "rows": [json.loads(r) for r in row["gold_rows"]]}
    return Instance.model_validate(record)
