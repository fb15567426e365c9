"""A leaderboard submission's manifest: what a leaderboard shows and checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SubmissionManifest(BaseModel):
    """What a leaderboard shows and checks: which suite, which model and settings, which scorer."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1]
    holobench_version: str = Field(min_length=1)
    suite: str = Field(min_length=1)
    instances_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    n_instances: int = Field(ge=1)
    model: str = Field(min_length=1)
    backend: str = Field(min_length=1)
    backend_settings: dict[str, Any]
    prompt: str = Field(min_length=1)
    scorer: str = Field(min_length=1)
    created: str
    label: str = Field(default="", max_length=200, description="leaderboard display name; the model by default")
    notes: str = Field(default="", max_length=10_000)
    versions: dict[str, Any] = Field(
        default_factory=dict,
        description="versions that decided the results: {'run': ..., 'suite': ...} (holobench.environment)",
    )

    @field_validator("created")
    @classmethod
    def _utc_timestamp(cls, value: str) -> str:
        try:
            when = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("not an ISO-8601 timestamp, e.g. 2025-01-31T12:00:00Z") from exc
        if when.utcoffset() != timedelta(0):
            raise ValueError("must be in UTC, e.g. 2025-01-31T12:00:00Z")
        return value

    @model_validator(mode="after")
    def _default_label(self) -> SubmissionManifest:
        if not self.label.strip():
            self.label = self.model
        return self
