"""What a run writes: one prediction per instance in its journal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

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
