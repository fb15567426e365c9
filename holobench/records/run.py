"""What a run writes: one prediction per instance in its journal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Usage(BaseModel):
    """Tokens of one answer.  ``prompt_tokens`` counts every input token; of those,
    ``cached_prompt_tokens`` were read from the provider's prompt cache and
    ``cache_write_tokens`` written to it (Anthropic), each priced at its own rate.  Both default
    to 0, so journals written before they existed still load."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Status = Literal["ok", "error", "skipped"]


class Prediction(BaseModel):
    """One journal record."""

    model_config = ConfigDict(extra="forbid")

    id: str
    backend: str
    model: str
    prompt: str
    status: Status
    response: str | None = None
    reasoning: str | None = None
    usage: Usage = Usage()
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    finish_reason: str | None = None
    error: str | None = None
    skip_reason: str | None = None
    cost_usd: float | None = None
    retrieval: dict[str, Any] | None = None


class BatchRecord(BaseModel):
    """One provider batch of a run, in ``<out>/batches.jsonl``: written when it is submitted
    (before anything waits on it) and again when its results are in the predictions journal.
    Request ``r<i>`` of the batch answers instance ``ids[i]``.  No request text, no key."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str
    provider: str
    ids: list[str]
    status: Literal["submitted", "collected"]
    submitted_at: float = 0.0  # seconds since the epoch: a request's latency runs from here
    outcome: str = ""  # the provider's final status word (completed, expired, failed, cancelled)
