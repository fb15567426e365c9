"""Score records: one per (instance, prediction), the input to every report and leaderboard."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from holobench.records.instance import Placement
from holobench.records.query import Category

#: The paper judges at most this many gold rows per instance, in the gold's deterministic order.
MAX_JUDGED_ROWS = 50


class Label(StrEnum):
    EXACT = "exact"
    PARTIAL = "partial"
    NO = "no"


#: A row's contribution to the recall-oriented score.
LABEL_WEIGHT = {Label.EXACT: 1.0, Label.PARTIAL: 0.5, Label.NO: 0.0}

#: ``truncated``: the reply hit the token limit (finish_reason "length") before giving a final
#: answer. Like skipped and failed it has no score: a cut-off reply is not a wrong answer.
ScoreStatus = Literal["scored", "skipped", "failed", "truncated"]


class ScoreRecord(BaseModel):
    """The verdict on one prediction.

    ``score`` is (exact + 0.5 * partial) / judged rows, the paper's accuracy; ``precision`` is the
    share of answer items that match some gold row, which the paper does not report.  Skipped and
    failed predictions keep ``score = None`` so no aggregate can fold them in as zeros.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    query_id: str
    db_id: str
    categories: tuple[Category, ...]
    target_tokens: int
    setting: Literal["amount", "density"]
    level: float = Field(description="info_amount in tokens, or info_density as a fraction")
    placement: Placement
    backend: str
    model: str
    prompt: str
    scorer: str
    status: ScoreStatus
    gold_rows: int = 0
    labels: list[Label] = Field(default_factory=list)
    score: float | None = None
    precision: float | None = None
    answer_items: int = 0
    answer: str | None = None
    retrieval_recall: float | None = None
    answerable: bool | None = Field(
        default=None, description="from the instance: answerable or unanswerable by design; None under uniform sampling"
    )
    counterfactual: bool = Field(
        default=False, description="from the instance: its database was rewritten (holobench.perturb)"
    )
    reason: str | None = Field(default=None, description="why a prediction was skipped, failed or truncated")
    scorer_version: str | None = Field(
        default=None,
        description="the scorer's settings, so two scorings are never mixed: match 'rel_tol=0.01'; "
        "judge '<backend>/<model>@<hash of its prompts and label schema>'",
    )

    @property
    def exact(self) -> int:
        return sum(label is Label.EXACT for label in self.labels)

    @property
    def partial(self) -> int:
        return sum(label is Label.PARTIAL for label in self.labels)


def score_of(labels: list[Label]) -> float:
    if not labels:
        raise ValueError("no judged rows")
    return sum(LABEL_WEIGHT[label] for label in labels) / len(labels)


class PairedDifference(BaseModel):
    """Run ``a`` minus run ``b`` over the instances both scored, with a paired cluster-bootstrap
    95% interval over queries; written to a report's ``tables/paired.csv`` and ``leaderboard.json``.

    ``separable`` is true when the interval excludes 0; never with fewer than two queries, where
    the bootstrap has no spread between queries to measure and the interval is only the point.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    a: str
    b: str
    n_pairs: int = Field(description="instances scored in both runs")
    queries: int = Field(description="queries those instances come from: the resampled clusters")
    only_a: int = Field(description="instances scored in a but not in b, left out")
    only_b: int = Field(description="instances scored in b but not in a, left out")
    mean_a: float
    mean_b: float
    diff: float = Field(description="mean(a) - mean(b) over the paired instances")
    ci_low: float
    ci_high: float
    separable: bool
