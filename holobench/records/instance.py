"""One benchmark instance, and the views of it that later stages read."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from holobench.records.query import Category, Difficulty, Result


class Placement(StrEnum):
    """Where relevant lines go among auxiliary lines (exact definitions in holobench.context)."""

    BEGIN = "begin"
    END = "end"
    MIDDLE = "middle"
    BIMODAL = "bimodal"
    UNIFORM = "uniform"
    RANDOM = "random"


class LineSource(BaseModel):
    """Provenance of one context line."""

    model_config = ConfigDict(frozen=True)

    table: str
    row: int = Field(ge=0, description="0-based index in the source table's natural order")
    relevant: bool
    db: str | None = Field(default=None, description="set only for filler lines from another database")
    answer: bool | None = Field(
        default=None,
        description="answerable sampling: an answer row (true) or a near miss (false) among relevant lines",
    )


PerturbKind = Literal["rows", "names", "dates"]


class Perturbation(BaseModel):
    """A counterfactual rewrite of a database's values (``holobench.perturb``), recorded so the
    rewritten database can be rebuilt from the source, the seed and the kinds alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    kinds: tuple[PerturbKind, ...] = Field(
        default=("rows", "names", "dates"),
        min_length=1,
        description="rows: a table's non-key values move together to another row; names: entity text "
        "renamed; dates: shifted by one offset per database",
    )
    version: int = Field(default=1, description="the rewrite's rules; a new version may rewrite differently")


class InstanceConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    tokenizer: str
    target_tokens: int = Field(gt=0)
    info_amount: int | None = Field(default=None, gt=0)
    info_density: float | None = Field(default=None, gt=0, le=1)
    placement: Placement
    seed: int
    sampling: str | None = Field(default=None, description="'answerable'; absent for uniform sampling")
    positives: float | None = Field(default=None, description="answerable: share of the budget for answer rows")

    @property
    def setting(self) -> Literal["amount", "density"]:
        """Which grid axis the instance sits on: a fixed amount of relevant tokens, or a density."""
        return "amount" if self.info_amount is not None else "density"

    @property
    def level(self) -> float:
        """The instance's value on that axis: tokens of relevant rows, or a fraction of the context."""
        return float(self.info_amount if self.info_amount is not None else self.info_density or 0.0)


class InstanceStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    tokens: int
    relevant_tokens: int
    relevant_rows: int
    auxiliary_rows: int
    filler_rows: int
    answer_rows: int | None = Field(default=None, description="answerable sampling: relevant rows that answer")


class Instance(BaseModel):
    """One benchmark item: a context, a question and its gold answer, with full provenance."""

    id: str
    db_id: str
    source: str
    query_id: str
    question: str
    sql: str
    categories: tuple[Category, ...]
    difficulty: Difficulty
    context: str
    gold: Result
    config: InstanceConfig
    stats: InstanceStats
    lines: list[LineSource]
    answerable: bool | None = Field(
        default=None,
        description="answerable sampling: whether the context holds the answer by design; absent for uniform",
    )
    perturbation: Perturbation | None = Field(
        default=None, description="counterfactual data: how the database was rewritten; absent for the original"
    )


class GoldView(BaseModel):
    """An instance's identity, categories and gold answer, read without its context."""

    model_config = ConfigDict(extra="ignore")

    id: str
    db_id: str
    query_id: str
    categories: tuple[Category, ...]
    gold: Result
    answerable: bool | None = None
    sql: str = Field(default="", description="the query, which says how its rows order and round")
    perturbation: Perturbation | None = None


class PromptItem(BaseModel):
    """The part of an instance record that a request needs.  The runner reads records as this:
    the gold answer and the per-line provenance (thousands of objects at 64k tokens) are skipped
    over by the JSON parser instead of being validated for every request."""

    model_config = ConfigDict(extra="ignore")

    id: str
    db_id: str = ""
    context: str
    question: str
    config: InstanceConfig


class RunItem(PromptItem):
    """A prompt item with its line provenance, for backends (RAG) that rebuild the context."""

    lines: list[LineSource]
