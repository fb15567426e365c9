"""The versions that decide results, recorded in every manifest.

A gold answer depends on the SQL engine and the SQL rewriter (DuckDB, sqlglot), a sentence on the
template engine (jinja2), a token count on the tokenizer library and its rank or vocabulary file,
an answer on the backend library. Two results are comparable only when these agree, so each
generation, run and score manifest carries them, and submissions and the leaderboard show them.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from holobench._version import __version__
from holobench.records import SuiteManifest

# Distributions whose release can change a generated instance (gold, sentences, token counts).
GENERATION_PACKAGES = ("duckdb", "sqlglot", "jinja2", "tiktoken", "tokenizers")


def package_version(dist: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(packages: Iterable[str] = GENERATION_PACKAGES, *, tokenizer: str | None = None) -> dict[str, Any]:
    """``{"holobench", "python", "packages": {dist: version}, "tokenizer": {...}}`` for a manifest."""
    out: dict[str, Any] = {
        "holobench": __version__,
        "python": platform.python_version(),
        "packages": {dist: package_version(dist) for dist in sorted(set(packages))},
    }
    if tokenizer is not None:
        from holobench.tokenizers import tokenizer_fingerprint

        out["tokenizer"] = tokenizer_fingerprint(tokenizer)
    return out


def reference_versions() -> dict[str, Any]:
    """Everything ``holobench versions`` prints: the generation set plus the reference SQLite."""
    out = versions((*GENERATION_PACKAGES, "pydantic", "openai", "vllm", "llama-cpp-python"))
    out["sqlite_reference"] = sqlite3.sqlite_version
    return out


def suite_versions(instances: Path) -> dict[str, Any]:
    """What the suite manifest beside an instances file recorded, or {} when there is none."""
    try:
        text = (instances.parent / "manifest.json").read_text(encoding="utf-8")
        return SuiteManifest.model_validate_json(text).versions
    except (OSError, ValueError):
        return {}


def version_differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """``name: a != b`` for each recorded version that two manifests disagree on."""
    flat_left, flat_right = _flatten(left), _flatten(right)
    return [
        f"{key}: {flat_left.get(key)} != {flat_right.get(key)}"
        for key in sorted(set(flat_left) | set(flat_right))
        if flat_left.get(key) != flat_right.get(key)
    ]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def describe(recorded: dict[str, Any]) -> str:
    """One line for a table or a log: ``holobench 0.1.0, duckdb 2.0.1, sqlglot 30.31.0, ...``."""
    parts = [f"holobench {recorded.get('holobench', '?')}"]
    packages = recorded.get("packages") or {}
    parts += [f"{dist} {version}" for dist, version in sorted(packages.items()) if version is not None]
    tokenizer = recorded.get("tokenizer")
    if isinstance(tokenizer, dict) and tokenizer.get("name"):
        parts.append(f"tokenizer {tokenizer['name']} ({str(tokenizer.get('sha256', ''))[:12]})")
    return ", ".join(parts)
