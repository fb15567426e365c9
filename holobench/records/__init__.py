"""Every record that crosses a stage or touches disk, in one place.

Records are pydantic models and data only; behaviour lives in the stages. Stages import records
from here, and records import nothing from the stages.
"""

from __future__ import annotations

from holobench.records.instance import (
    GoldView,
    Instance,
    InstanceConfig,
    InstanceStats,
    LineSource,
    Perturbation,
    PerturbKind,
    Placement,
    PromptItem,
    RunItem,
)
from holobench.records.manifests import ExportManifest, ExportSplit, RunManifest, ScoreSummary, SuiteManifest
from holobench.records.query import (
    Category,
    Column,
    Difficulty,
    EngineDifference,
    ForeignKey,
    Query,
    Result,
    TableSchema,
)
from holobench.records.run import BatchRecord, Prediction, Status, Usage
from holobench.records.score import (
    LABEL_WEIGHT,
    MAX_JUDGED_ROWS,
    Label,
    PairedDifference,
    ScoreRecord,
    ScoreStatus,
    score_of,
)
from holobench.records.submission import SubmissionManifest

__all__ = [
    "LABEL_WEIGHT",
    "MAX_JUDGED_ROWS",
    "BatchRecord",
    "Category",
    "Column",
    "Difficulty",
    "EngineDifference",
    "ExportManifest",
    "ExportSplit",
    "ForeignKey",
    "GoldView",
    "Instance",
    "InstanceConfig",
    "InstanceStats",
    "Label",
    "LineSource",
    "PairedDifference",
    "PerturbKind",
    "Perturbation",
    "Placement",
    "Prediction",
    "PromptItem",
    "Query",
    "Result",
    "RunItem",
    "RunManifest",
    "ScoreRecord",
    "ScoreStatus",
    "ScoreSummary",
    "Status",
    "SubmissionManifest",
    "SuiteManifest",
    "TableSchema",
    "Usage",
    "score_of",
]
