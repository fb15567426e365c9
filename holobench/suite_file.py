"""Suite files: the YAML grid (databases x queries x lengths x settings x placements x seeds) and
the bundled suites (``paper``, ``paper-official``, ``smoke``), read and checked."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from holobench.errors import HoloBenchError, field_problem
from holobench.records import Category, Perturbation, Placement, Query
from holobench.sampling import DEFAULT_POSITIVES, MAX_UNANSWERABLE, Sampling
from holobench.tokenizers import DEFAULT_TOKENIZER

_LENGTH = re.compile(r"^\s*(\d+)\s*([kK])?\s*$")
BUNDLED_SUITES = Path(__file__).resolve().parent / "suites"


class Setting(BaseModel):
    """Either a constant information amount (tokens) or a constant density (share of the target)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int | None = Field(default=None, gt=0)
    density: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Setting:
        if (self.amount is None) == (self.density is None):
            raise ValueError("each setting needs exactly one of 'amount' or 'density'")
        return self

    @field_validator("amount", mode="before")
    @classmethod
    def _k(cls, value: Any) -> Any:
        return parse_length(value) if isinstance(value, str) else value


class QuerySelection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ids: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()

    def select(self, queries: Sequence[Query]) -> list[Query]:
        chosen = list(queries)
        if self.ids:
            chosen = [q for q in chosen if q.id in self.ids]
        if self.categories:
            chosen = [q for q in chosen if set(q.categories) & set(self.categories)]
        return chosen


class Suite(BaseModel):
    """A generation grid; its hash identifies every instance set made from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    source: str = "bundled"
    databases: tuple[str, ...] | Literal["all"] = "all"
    queries: QuerySelection | Literal["all"] = "all"
    fillers: tuple[str, ...] | Literal["auto", "none"] = "auto"
    tokenizer: str = DEFAULT_TOKENIZER
    lengths: tuple[int, ...] = Field(min_length=1)
    settings: tuple[Setting, ...] = Field(min_length=1)
    placements: tuple[Placement, ...] = Field(min_length=1)
    seeds: tuple[int, ...] = (0,)
    sampling: Sampling = Sampling.ANSWERABLE
    positives: float = Field(default=DEFAULT_POSITIVES, gt=0, le=1)
    unanswerable: float = Field(default=0.0, ge=0, le=MAX_UNANSWERABLE)
    perturb: Perturbation | None = None  # counterfactual databases (holobench.perturb)

    @model_validator(mode="after")
    def _unanswerable_needs_answerable(self) -> Suite:
        if self.unanswerable and self.sampling is not Sampling.ANSWERABLE:
            raise ValueError("'unanswerable' needs 'sampling: answerable' (uniform sampling has no answer rows)")
        return self

    @field_validator("lengths", mode="before")
    @classmethod
    def _lengths(cls, value: Any) -> Any:
        return [parse_length(v) for v in value] if isinstance(value, list | tuple) else value

    def suite_hash(self) -> str:
        dump = self.model_dump(mode="json")
        if self.sampling is Sampling.UNIFORM:  # the fields uniform suites had before sampling existed
            for key in ("sampling", "positives", "unanswerable"):
                dump.pop(key)
        if self.perturb is None:  # suites without it hash as they did before it existed
            dump.pop("perturb")
        blob = json.dumps(dump, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def parse_length(value: Any) -> int:
    """4096, '4096' or '4k' (= 4096)."""
    if isinstance(value, int):
        return value
    match = _LENGTH.match(str(value))
    if not match:
        raise ValueError(f"not a length: {value!r} (use e.g. 4096 or '4k')")
    return int(match.group(1)) * (1024 if match.group(2) else 1)


def load_suite(path_or_name: str | Path) -> Suite:
    """A suite file, or the name of a bundled suite (``paper``, ``smoke``)."""
    path = Path(path_or_name)
    if not path.exists() and (BUNDLED_SUITES / f"{path_or_name}.yaml").is_file():
        path = BUNDLED_SUITES / f"{path_or_name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HoloBenchError(
            f"{path}: cannot read suite file ({exc.strerror}); bundled suites: "
            + ", ".join(sorted(p.stem for p in BUNDLED_SUITES.glob("*.yaml")))
        ) from exc
    except yaml.YAMLError as exc:
        raise HoloBenchError(f"{path}: malformed YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise HoloBenchError(f"{path}: a suite is a mapping with name, lengths, settings, placements")
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise HoloBenchError(f"{path}: {field_problem(exc.errors()[0], 'suite')}") from exc
