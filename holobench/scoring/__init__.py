"""Scoring predictions against gold rows: the deterministic ``match`` scorer, the LLM ``judge``,
their agreement, and the score records every report is built from."""

from holobench.records import MAX_JUDGED_ROWS, Label, ScoreRecord
from holobench.scoring.compare import agreement, cohen_kappa, compare_records
from holobench.scoring.match import extract_answer, match
from holobench.scoring.run import read_scores
from holobench.scoring.score import score_match

__all__ = [
    "MAX_JUDGED_ROWS",
    "Label",
    "ScoreRecord",
    "agreement",
    "cohen_kappa",
    "compare_records",
    "extract_answer",
    "match",
    "read_scores",
    "score_match",
]
