"""The dataset card (``README.md``) of an export: YAML front matter that the Hugging Face Hub
and ``datasets`` read (splits, data files, features, licences), then what the data is, where
it came from and how it was made."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from holobench.export.schema import COLUMNS, yaml_features
from holobench.records import ExportManifest, SuiteManifest

#: Hub licence identifiers of the bundled databases (their ``data/<db>/SOURCE.md`` says why)
BUNDLED_LICENCES = {"store_1": "mit", "nycflights": "cc0-1.0", "baseball": "cc-by-sa-3.0"}

CITATION = """@inproceedings{maekawa2025holobench,
  title     = {Holistic Reasoning with Long-Context {LM}s: A Benchmark for Database Operations on Massive Textual Data},
  author    = {Maekawa, Seiji and Iso, Hayate and Bhutani, Nikita},
  booktitle = {The Thirteenth International Conference on Learning Representations (ICLR)},
  year      = {2025},
  url       = {https://arxiv.org/abs/2410.11996}
}"""

_FIELD_NOTES = {
    "suite_index": "the record's 0-based line in the suite's instances.jsonl (merges splits back in order)",
    "gold_columns": "column names of the gold answer",
    "gold_rows": "gold answer rows, each a JSON array (json.loads gives the exact values)",
    "lines": "provenance of each context line: source table, row index, relevant, filler db, answer row",
    "answerable": "whether the context holds the answer by design (answerable sampling; null for uniform)",
}


def source_licence(db_id: str, source: str, data_root: Any) -> tuple[str, str]:
    """(Hub licence id, the licence as its source states it) for one database."""
    if source == "bundled" and db_id in BUNDLED_LICENCES:
        note = f"see data/{db_id}/SOURCE.md in holobench"
        try:
            text = (data_root / db_id / "SOURCE.md").read_text(encoding="utf-8")
            found = re.search(r"\*\*Licence:\*\*\s*(.+?)(?:\n-|\n\n|$)", text, re.S)
            note = " ".join(found.group(1).split()) if found else note
        except OSError:
            pass
        return BUNDLED_LICENCES[db_id], note
    return "other", f"the terms of the source {source!r}; check them before publishing"


def front_matter(manifest: ExportManifest, licences: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The card's YAML header: the Hub reads configs and dataset_info; datasets loads by it."""
    ids = sorted({lic for lic, _ in licences.values()})
    suite = SuiteManifest.model_validate(manifest.suite_manifest)
    return {
        "license": ids[0] if len(ids) == 1 else ids,
        "language": ["en"],
        "pretty_name": f"HoloBench suite {suite.suite.get('name', '')}".strip(),
        "task_categories": ["question-answering", "table-question-answering"],
        "tags": ["long-context", "holistic-reasoning", "text-to-sql", "holobench"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}-*.parquet"} for name in manifest.splits],
            }
        ],
        "dataset_info": {
            "features": yaml_features(),
            "splits": [
                {"name": name, "num_bytes": split.num_bytes, "num_examples": split.rows}
                for name, split in manifest.splits.items()
            ],
        },
    }


def _generation(manifest: ExportManifest) -> list[str]:
    """How the instances were made, from the suite's manifest."""
    suite = SuiteManifest.model_validate(manifest.suite_manifest)
    grid = suite.suite
    packages = suite.versions.get("packages", {})
    library = ", ".join(f"{k} {v}" for k, v in sorted(packages.items())) or "not recorded"
    return [
        f"- suite: `{grid.get('name', 'unknown')}`, hash `{suite.suite_hash or 'unknown'}`",
        f"- holobench {suite.holobench_version or 'unknown'} (generator version {suite.generator_version or '?'});"
        f" exported by holobench {manifest.holobench_version}",
        f"- tokenizer: `{suite.tokenizer or grid.get('tokenizer', 'unknown')}`; libraries: {library}",
        f"- grid: lengths {grid.get('lengths')}, settings {_settings(grid)}, placements {grid.get('placements')},"
        f" seeds {grid.get('seeds')}",
        f"- sampling: `{yaml.safe_dump(suite.sampling, default_flow_style=True, width=1000).strip()}`",
        f"- {suite.instances or manifest.instances} instances built of a grid of {suite.grid_size};"
        f" {len(suite.skipped)} cells skipped (listed in holobench-export.json)",
        f"- sha256 of the exported instances.jsonl: `{manifest.instances_sha256}`",
    ]


def _settings(grid: Mapping[str, Any]) -> str:
    parts = []
    for s in grid.get("settings") or []:
        parts += [f"amount {s['amount']}"] if s.get("amount") is not None else [f"density {s.get('density')}"]
    return ", ".join(parts) or "unknown"


def render_card(manifest: ExportManifest, licences: Mapping[str, tuple[str, str]]) -> str:
    """The whole ``README.md``."""
    header = yaml.safe_dump(front_matter(manifest, licences), sort_keys=False, allow_unicode=True, width=1000)
    name = manifest.suite_manifest.get("suite", {}).get("name", "suite")
    splits = [f"| `{n}` | {s.target_tokens} | {s.rows} |" for n, s in manifest.splits.items()]
    fields = [f"| `{c}` | {_kind(k)} | {_FIELD_NOTES.get(c, o)} |" for c, (k, o) in COLUMNS.items()]
    sources = [f"| `{db}` | `{lic}` | {note} |" for db, (lic, note) in sorted(licences.items())]
    body = [
        f"# HoloBench: `{name}`",
        "",
        "Long-context holistic-reasoning instances: each context verbalizes database rows, one sentence",
        "a row; each question comes with the SQL that answers it and the exact gold rows. Made with",
        "holobench, a re-implementation of HoloBench ([arXiv 2410.11996](https://arxiv.org/abs/2410.11996)).",
        "",
        "## Splits",
        "",
        "One split per context length (`len_<target tokens>`).",
        "",
        "| split | target tokens | instances |",
        "|---|---:|---:|",
        *splits,
        "",
        "## Features",
        "",
        "| column | type | from the instance record |",
        "|---|---|---|",
        *fields,
        "",
        "`holobench score --instances <this folder>` scores predictions against it; `holobench export",
        "<this folder> --format jsonl -o SUITE` writes the suite's instances.jsonl back, byte for byte.",
        "",
        "## How it was generated",
        "",
        *_generation(manifest),
        "",
        "## Licences",
        "",
        "Contexts and answers are derived from these databases, under their licences:",
        "",
        "| database | licence | terms |",
        "|---|---|---|",
        *sources,
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return f"---\n{header}---\n\n" + "\n".join(body)


def _kind(kind: Any) -> str:
    if isinstance(kind, list):
        return f"list of {'struct' if isinstance(kind[0], dict) else kind[0]}"
    return str(kind)
