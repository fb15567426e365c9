"""The ``judge`` scorer: the paper's LLM-judge protocol through any runner backend.

Two requests per prediction: the judge first copies out the reply's final answer, then labels each
judged gold row Exact / Partial / No under a JSON schema (sent as structured output where the
backend supports it).  Output that does not fit the schema is asked again with a fresh cache salt,
then recorded as a failure.  Requests go through the runner's :class:`Client`, so they share its
concurrency limit, retries, timeouts and response cache: rescoring a run is free, and a crashed
scoring resumes from the cache.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from holobench.backends import BackendOptions, SamplingParams
from holobench.backends.base import ChatMessage, ChatRequest
from holobench.backends.client import Client, PriceTable
from holobench.backends.registry import create_backend, key_env, parse_options
from holobench.cache import ResponseCache
from holobench.prompts import JUDGE_PROMPTS, prompt_version, render_template, split_reasoning
from holobench.records import MAX_JUDGED_ROWS, Category, Instance, Label, Prediction, ScoreRecord, score_of
from holobench.scoring.match import match
from holobench.scoring.run import Scorer, ScorerOptions, score_run

LABEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "labels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer", "minimum": 1},
                    "label": {"type": "string", "enum": [label.value for label in Label]},
                },
                "required": ["row", "label"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["labels"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "row_labels", "strict": True, "schema": LABEL_SCHEMA}}


def judge_protocol() -> str:
    """A hash of the judge's prompts and label schema: scorings under another protocol differ."""
    parts = [prompt_version(name) for name in JUDGE_PROMPTS] + [json.dumps(LABEL_SCHEMA, sort_keys=True)]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]


class JudgeConfig(BaseModel):
    """Which model judges, and how hard to push it."""

    model_config = ConfigDict(extra="forbid")

    backend: str = "openai"
    options: BackendOptions = Field(default_factory=BackendOptions)
    concurrency: int = Field(default=8, ge=1)
    max_retries: int = Field(default=4, ge=0)
    timeout_s: float = Field(default=300.0, gt=0)
    malformed_retries: int = Field(default=2, ge=0, description="re-asks when the labels do not fit the schema")
    max_tokens: int = Field(default=2048, gt=0)
    cache_dir: Path | None = Path(".cache/holobench/responses")


class MalformedLabels(ValueError):
    pass


def parse_labels(text: str, rows: int) -> list[Label]:
    """Labels for rows 1..rows from the judge's JSON; anything else is malformed."""
    _, body = split_reasoning(text)
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise MalformedLabels("no JSON object")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise MalformedLabels(f"not JSON ({exc.msg})") from exc
    entries = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise MalformedLabels("no 'labels' list")
    labels: dict[int, Label] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("row"), int):
            raise MalformedLabels("an entry without an integer 'row'")
        try:
            label = Label(str(entry.get("label", "")).strip().lower())
        except ValueError as exc:
            raise MalformedLabels(f"unknown label {entry.get('label')!r}") from exc
        if entry["row"] in labels:
            raise MalformedLabels(f"row {entry['row']} labelled twice")
        labels[entry["row"]] = label
    if sorted(labels) != list(range(1, rows + 1)):
        raise MalformedLabels(f"labels for rows {sorted(labels)[:5]}..., expected 1..{rows}")
    return [labels[i] for i in range(1, rows + 1)]


@dataclass
class _Case:
    record: ScoreRecord
    question: str
    columns: list[str]
    rows: list[list[Any]]
    response: str
    ranking: bool
    unanswerable: bool = False


class Judge:
    """Labels predictions with a model; one instance per scoring run (it owns a client)."""

    def __init__(self, config: JudgeConfig, client: Client | None = None) -> None:
        self.config = config
        if client is None:
            backend = create_backend(config.backend, config.options)
            cache = ResponseCache(config.cache_dir / "responses.sqlite") if config.cache_dir else None
            client = Client(
                backend,
                concurrency=config.concurrency,
                max_retries=config.max_retries,
                timeout=config.timeout_s,
                cache=cache,
                prices=PriceTable.load(None),
            )
        self.client = client
        self.sampling = SamplingParams(temperature=0.0, max_tokens=config.max_tokens, seed=0)

    def _request(self, case_id: str, step: str, text: str, metadata: dict[str, Any]) -> ChatRequest:
        return ChatRequest(
            instance_id=f"{case_id}#{step}",
            messages=(ChatMessage(role="user", content=text),),
            sampling=self.sampling,
            prompt=step,
            metadata=metadata,
        )

    async def extract(self, case_id: str, question: str, response: str) -> str:
        text = render_template("judge_extract", question=question, response=response)
        outcome = await self.client.complete(self._request(case_id, "judge_extract", text, {}))
        if outcome.completion is None:
            raise RuntimeError(f"judge request failed: {outcome.error}")
        return split_reasoning(outcome.completion.text)[1]

    async def label(
        self, case_id: str, question: str, columns: list[str], rows: list[list[Any]], answer: str, ranking: bool
    ) -> list[Label]:
        judged = rows[:MAX_JUDGED_ROWS]
        shown = [json.dumps(r, ensure_ascii=False) for r in judged] or ["(no rows: nothing qualifies)"]
        text = render_template(
            "judge_label",
            question=question,
            columns=", ".join(columns),
            rows=shown,
            answer=answer,
            empty=not judged,
            ranking=ranking and len(judged) > 1,
        )
        problem = ""
        for attempt in range(self.config.malformed_retries + 1):
            metadata: dict[str, Any] = {"response_format": RESPONSE_FORMAT, "cache_salt": f"judge-label-{attempt}"}
            outcome = await self.client.complete(self._request(case_id, "judge_label", text, metadata))
            if outcome.completion is None:
                raise RuntimeError(f"judge request failed: {outcome.error}")
            try:
                return parse_labels(outcome.completion.text, len(shown))
            except MalformedLabels as exc:
                problem = str(exc)
        raise RuntimeError(f"judge output malformed after {self.config.malformed_retries + 1} tries: {problem}")

    async def score(self, case: _Case) -> ScoreRecord:
        try:
            answer = await self.extract(case.record.id, case.question, case.response)
            labels = await self.label(case.record.id, case.question, case.columns, case.rows, answer, case.ranking)
        except RuntimeError as exc:
            return case.record.model_copy(update={"status": "failed", "reason": str(exc)})
        if case.unanswerable:
            # Withheld by design: right when the judge finds the answer over nothing (a count of 0)
            # or the reply says there is none, as ``match`` scores it; one judged item either way.
            abstains = match([], f"Final answer: {answer}").labels[0] is Label.EXACT
            labels = [Label.EXACT if abstains or all(x is Label.EXACT for x in labels) else Label.NO]
        return case.record.model_copy(update={"labels": labels, "score": score_of(labels), "answer": answer})

    async def aclose(self) -> None:
        await self.client.backend.aclose()
        if self.client.cache is not None:
            self.client.cache.close()


class JudgeScorer(Scorer):
    """The paper's protocol with a model: two requests per prediction, through a :class:`Client`."""

    name = "judge"
    reads = Instance
    concurrent = True

    def __init__(self, config: JudgeConfig, client: Client | None = None) -> None:
        self.config = config
        self.judge = Judge(config, client)

    @classmethod
    def from_options(cls, options: ScorerOptions) -> JudgeScorer:
        """From the command line's ``--judge-*`` settings: the key's variable must be set when
        named, and each ``--judge-option`` must read key=value."""
        given = dict(options.judge or {})
        backend_options = BackendOptions(
            model=given.pop("model", None),
            base_url=given.pop("base_url", None),
            api_key_env=key_env(given.pop("api_key_env", None)),
            options=parse_options(given.pop("options", None)),
        )
        return cls(JudgeConfig.model_validate({**given, "options": backend_options}))

    @property
    def version(self) -> str:
        return f"{self.config.backend}/{self.judge.client.backend.model}@{judge_protocol()}"

    async def start(self) -> None:
        await self.judge.client.backend.prepare()

    async def stop(self) -> None:
        await self.judge.aclose()

    async def ascore(self, item: Instance, prediction: Prediction, record: ScoreRecord) -> ScoreRecord:
        case = _Case(
            record,
            item.question,
            item.gold.columns,
            item.gold.rows[:MAX_JUDGED_ROWS],
            prediction.response or "",
            Category.RANKING in item.categories,
            item.answerable is False,
        )
        return await self.judge.score(case)

    def summary(self) -> dict[str, Any]:
        backend = self.judge.client.backend
        return {"judge": {"backend": self.config.backend, "model": backend.model, **self.judge.client.summary()}}

    def libraries(self) -> tuple[str, ...]:
        return self.judge.client.backend.library_versions()


async def score_judge(
    instances: Path,
    predictions: Path,
    config: JudgeConfig,
    out: Path | None = None,
    *,
    client: Client | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a run with an LLM judge and write records and summary (scorer name ``judge``)."""
    return await score_run(JudgeScorer(config, client), instances, predictions, out, progress=progress)
