"""The manifests written beside a suite, a run and a scoring: what produced the records next to
them. They are read back as these models, so a stage reads named fields, not ``dict.get``.

Readers are lenient about fields an older holobench did not write (each has a default) and keep
fields a newer one adds (``extra="allow"``), so a manifest is never rejected for its age; the
writers fill every field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class RunManifest(BaseModel):
    """``<run>/manifest.json``: which instances, which backend settings (never secrets), prompt,
    sampling and versions; a rerun with other settings in the same folder is refused."""

    model_config = ConfigDict(extra="allow")

    instances: str | None = None
    instances_sha256: str | None = None
    backend: dict[str, Any] = Field(default_factory=dict)
    prompt: str | None = None
    closed_book: bool = Field(default=False, description="the context was withheld (the prompt is '<name>+closed')")
    sampling: dict[str, Any] = Field(default_factory=dict)
    shard: list[int] | None = None
    holobench_version: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    suite_versions: dict[str, Any] = Field(default_factory=dict)
    fewshot: dict[str, Any] | None = None
    merged_from: list[str] | None = None

    #: the fields two runs in one folder (or two shards of one run) must agree on
    IDENTITY: ClassVar[tuple[str, ...]] = (
        "instances_sha256",
        "backend",
        "closed_book",
        "prompt",
        "sampling",
        "shard",
    )

    def differs(self, other: RunManifest, keys: tuple[str, ...] = IDENTITY) -> str | None:
        """The first identity field on which the two manifests disagree, or None."""
        return next((key for key in keys if getattr(self, key) != getattr(other, key)), None)


class SuiteManifest(BaseModel):
    """``<suite>/manifest.json``: the suite, the versions that decided its instances, what was
    built, skipped and withheld, and the hash of every file written."""

    model_config = ConfigDict(extra="allow")

    suite: dict[str, Any] = Field(default_factory=dict)
    suite_hash: str | None = None
    holobench_version: str | None = None
    generator_version: str | None = None
    tokenizer: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    source_revision: str | None = None
    instances: int = 0
    instances_per_database: dict[str, int] = Field(default_factory=dict)
    grid_size: int = 0
    sampling: dict[str, Any] = Field(default_factory=dict)
    provenance: list[dict[str, Any]] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)
    files: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ScoreSummary(BaseModel):
    """``<scores>/summary.json``: counts by status, the mean score and precision, labels, per
    category means, answer and abstention accuracy, and the versions that decided the scores."""

    model_config = ConfigDict(extra="allow")

    scorer: str | None = None
    backend: str | None = None
    model: str | None = None
    prompt: str | None = None
    instances: int = 0
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    truncated: int = 0
    missing: int = 0
    mean_score: float | None = None
    mean_precision: float | None = None
    labels: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, float] = Field(default_factory=dict)
    answerable: int = 0
    unanswerable: int = 0
    answer_accuracy: float | None = None
    abstention_accuracy: float | None = None
    skip_reasons: dict[str, int] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)


class ExportSplit(BaseModel):
    """One split of an export: its instances' context length, how many, and its Parquet shards."""

    model_config = ConfigDict(extra="allow")

    target_tokens: int
    rows: int
    num_bytes: int = Field(default=0, description="the rows' size in memory (Arrow), as datasets counts it")
    files: list[str] = Field(default_factory=list, description="paths relative to the export folder")


class ExportManifest(BaseModel):
    """``<export>/holobench-export.json``: what a dataset export holds and the suite it came
    from, with the suite's own manifest kept whole, so the suite folder can be written back."""

    model_config = ConfigDict(extra="allow")

    format: str = "hf"
    holobench_version: str | None = None
    instances: int = 0
    instances_sha256: str | None = Field(default=None, description="of the exported instances.jsonl")
    splits: dict[str, ExportSplit] = Field(default_factory=dict)
    suite_manifest: dict[str, Any] = Field(default_factory=dict, description="the suite's manifest.json")
