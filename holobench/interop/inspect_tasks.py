"""Holobench suites as inspect_ai tasks: ``inspect eval holobench/smoke --model ...``.

inspect_ai loads this module through the ``inspect_ai`` entry point (the ``inspect`` extra).
Each instance becomes a sample (its id, the question as input, the gold rows as target, and its
grid coordinates as metadata, so the log viewer filters by database, category, length or
placement); :func:`holobench_prompt` is the solver that renders holobench's answer prompt, and
the scorers are holobench's own: :func:`holobench_match` (deterministic) and
:func:`holobench_judge` (the LLM judge through a holobench backend). A score's value is the
instance's score; skipped, failed and truncated replies carry no score and stay out of the mean,
as in ``holobench score``.

Task arguments (``-T name=value``): ``instances`` (an instances.jsonl, suite folder or export
folder; without it the suite is generated on the spot), ``lengths`` and ``queries`` (a cut),
``prompt``, ``scorer`` (``match``, ``judge`` or ``match,judge``), ``rel_tol``, ``max_tokens``,
and ``judge_model``, ``judge_backend``, ``judge_base_url``, ``judge_api_key_env``.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageUser, GenerateConfig
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer
from inspect_ai.solver import Generate, Solver, TaskState, generate, solver

from holobench._version import __version__
from holobench.backends.base import SamplingParams
from holobench.backends.registry import key_env
from holobench.errors import HoloBenchError
from holobench.interop.instances import InstanceSource, instance_source, task_instances
from holobench.interop.replies import gold_text, prediction_of
from holobench.prompts import CLOSED_PROMPTS, PROMPTS, prompt_version, render_prompt
from holobench.records import Instance, Prediction, ScoreRecord
from holobench.scoring.judge import JudgeScorer
from holobench.scoring.match import DEFAULT_REL_TOL
from holobench.scoring.run import ScorerOptions, base_record, unscorable
from holobench.scoring.score import match_labels, match_version
from holobench.suite_file import BUNDLED_SUITES

#: prompts a chat model answers (``fewshot`` needs raw completions, which a task does not send)
TASK_PROMPTS = tuple(p for p in PROMPTS + CLOSED_PROMPTS if not p.startswith("fewshot"))
SCORERS = ("match", "judge")
#: the metadata key of the instance a sample was made from (its context, gold answer and query)
INSTANCE = "holobench_instance"


def sample_of(instance: Instance, prompt: str = "cot") -> Sample:
    """One sample; the line provenance stays in the suite (the viewer's position analyses read it there)."""
    config = instance.config
    metadata: dict[str, Any] = {
        "db_id": instance.db_id,
        "query_id": instance.query_id,
        "categories": [c.value for c in instance.categories],
        "difficulty": instance.difficulty.value,
        "target_tokens": config.target_tokens,
        "setting": config.setting,
        "level": config.level,
        "placement": config.placement.value,
        "answerable": instance.answerable,
        "holobench_prompt": prompt,
        INSTANCE: instance.model_copy(update={"lines": []}).model_dump(mode="json"),
    }
    return Sample(id=instance.id, input=instance.question, target=gold_text(instance), metadata=metadata)


def _instance(state: TaskState) -> Instance:
    return Instance.model_validate(state.metadata[INSTANCE])


@solver
def holobench_prompt(prompt: str = "cot") -> Solver:
    """The user message ``holobench run`` sends for the sample's instance (context, then question)."""
    if prompt not in TASK_PROMPTS:
        raise HoloBenchError(f"prompt={prompt!r}: use one of {', '.join(TASK_PROMPTS)}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        instance = _instance(state)
        state.metadata["holobench_prompt"] = prompt  # the scorers read replies by its answer format
        state.messages = [ChatMessageUser(content=render_prompt(prompt, instance.context, instance.question))]
        return state

    return solve


@metric
def scored_mean() -> Metric:
    """The mean over scored samples only, as ``holobench score``'s ``mean_score``."""

    def compute(scores: list[SampleScore]) -> float:
        values = [float(s.score.as_float()) for s in scores if (s.score.metadata or {}).get("status") == "scored"]
        return sum(values) / len(values) if values else 0.0

    return compute


@metric
def scored() -> Metric:
    """How many samples were scored (the rest were cut off, failed or skipped)."""

    def compute(scores: list[SampleScore]) -> int:
        return sum((s.score.metadata or {}).get("status") == "scored" for s in scores)

    return compute


def score_of(record: ScoreRecord) -> Score:
    """An inspect score carrying the whole holobench record (labels, precision, scorer version)."""
    value: float | str = record.score if record.status == "scored" and record.score is not None else "N"
    labels = ", ".join(label.value for label in record.labels)
    explanation = record.reason if record.status != "scored" else f"gold rows judged: {labels}"
    return Score(value=value, answer=record.answer, explanation=explanation, metadata=record.model_dump(mode="json"))


def _record(state: TaskState, scorer_name: str) -> tuple[Instance, Prediction, ScoreRecord]:
    """The instance, the reply as a prediction, and its record before any verdict."""
    instance = _instance(state)
    prompt = str(state.metadata.get("holobench_prompt", "cot"))
    prediction = prediction_of(
        instance,
        state.output.completion,
        backend="inspect",
        model=str(state.model),
        prompt=prompt,
        finish_reason=state.output.stop_reason,
    )
    return instance, prediction, base_record(instance, prediction, scorer_name)


@scorer(metrics=[scored_mean(), scored()])
def holobench_match(rel_tol: float = DEFAULT_REL_TOL) -> Scorer:
    """holobench's deterministic ``match`` scorer."""

    async def score(state: TaskState, target: Target) -> Score:
        instance, prediction, record = _record(state, "match")
        record = unscorable(record, prediction) or match_labels(instance, prediction, record, rel_tol)
        return score_of(record.model_copy(update={"scorer_version": match_version(rel_tol)}))

    return score


@scorer(metrics=[scored_mean(), scored()])
def holobench_judge(
    model: str, backend: str = "openai", base_url: str | None = None, api_key_env: str | None = None
) -> Scorer:
    """holobench's LLM judge through one of its backends (``api_key_env`` names the key's variable;
    the key itself never reaches the log)."""
    if api_key_env is not None:
        key_env(api_key_env)  # an unset variable fails the task now, not every sample later
    options = ScorerOptions(
        judge={"backend": backend, "model": model, "base_url": base_url, "api_key_env": api_key_env}
    )

    async def score(state: TaskState, target: Target) -> Score:
        instance, prediction, record = _record(state, "judge")
        judge = JudgeScorer.from_options(options)  # one client per sample: its session lives on this loop
        await judge.start()
        try:
            record = unscorable(record, prediction) or await judge.ascore(instance, prediction, record)
        finally:
            await judge.stop()
        return score_of(record.model_copy(update={"scorer_version": judge.version}))

    return score


def _scorers(names: str, rel_tol: float, judge: dict[str, Any]) -> list[Scorer]:
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in SCORERS]
    if unknown or not chosen:
        raise HoloBenchError(f"scorer={names!r}: use match, judge or match,judge")
    if "judge" in chosen and not judge.get("model"):
        raise HoloBenchError(
            "scorer=judge: name the judge with -T judge_model=MODEL (and judge_base_url, judge_api_key_env)"
        )
    made = {"match": lambda: holobench_match(rel_tol), "judge": lambda: holobench_judge(**judge)}
    return [made[n]() for n in chosen]


def holobench_task(
    source: InstanceSource,
    *,
    prompt: str = "cot",
    scorer: str = "match",
    rel_tol: float = DEFAULT_REL_TOL,
    max_tokens: int | None = None,
    judge: dict[str, Any] | None = None,
) -> Task:
    """The task for ``source``'s instances: sampling as ``holobench run``'s defaults (greedy, seed 0)."""
    scorers = _scorers(scorer, rel_tol, judge or {})
    instances = task_instances(source)
    sampling = SamplingParams(max_tokens=max_tokens) if max_tokens else SamplingParams()
    return Task(
        dataset=MemoryDataset([sample_of(i, prompt) for i in instances], name=source.suite),
        solver=[holobench_prompt(prompt), generate()],
        scorer=scorers,
        config=GenerateConfig(temperature=sampling.temperature, max_tokens=sampling.max_tokens, seed=sampling.seed),
        metadata={
            "holobench_version": __version__,
            "prompt": prompt_version(prompt),
            "source": source.model_dump(mode="json"),
        },
    )


def _task(
    suite: str,
    instances: str | None,
    lengths: str | list[str | int] | None,
    queries: str | list[str] | None,
    prompt: str,
    scorer: str,
    rel_tol: float,
    max_tokens: int | None,
    judge: dict[str, Any],
) -> Task:
    source = instance_source(suite, instances, lengths, queries)
    return holobench_task(source, prompt=prompt, scorer=scorer, rel_tol=rel_tol, max_tokens=max_tokens, judge=judge)


def _judge(model: str | None, backend: str, base_url: str | None, api_key_env: str | None) -> dict[str, Any]:
    return {"model": model, "backend": backend, "base_url": base_url, "api_key_env": api_key_env}


def _bundled_task(name: str) -> None:
    """Registers ``holobench/<name>`` for a bundled suite (its task arguments as the module says)."""

    def bundled(
        instances: str | None = None,
        lengths: str | list[str | int] | None = None,
        queries: str | list[str] | None = None,
        prompt: str = "cot",
        scorer: str = "match",
        rel_tol: float = DEFAULT_REL_TOL,
        max_tokens: int | None = None,
        judge_model: str | None = None,
        judge_backend: str = "openai",
        judge_base_url: str | None = None,
        judge_api_key_env: str | None = None,
    ) -> Task:
        judge = _judge(judge_model, judge_backend, judge_base_url, judge_api_key_env)
        return _task(name, instances, lengths, queries, prompt, scorer, rel_tol, max_tokens, judge)

    bundled.__doc__ = f"The bundled {name} suite (holobench/suites/{name}.yaml), or the instances given."
    bundled.__name__ = bundled.__qualname__ = name.replace("-", "_")
    globals()[bundled.__name__] = task(name=name)(bundled)


#: one task per bundled suite: ``holobench/smoke``, ``holobench/paper``, ``holobench/paper-counterfactual``, ...
BUNDLED_TASKS = tuple(sorted(path.stem for path in BUNDLED_SUITES.glob("*.yaml")))
for _name in BUNDLED_TASKS:
    _bundled_task(_name)


@task
def suite(
    suite: str = "smoke",
    instances: str | None = None,
    lengths: str | list[str | int] | None = None,
    queries: str | list[str] | None = None,
    prompt: str = "cot",
    scorer: str = "match",
    rel_tol: float = DEFAULT_REL_TOL,
    max_tokens: int | None = None,
    judge_model: str | None = None,
    judge_backend: str = "openai",
    judge_base_url: str | None = None,
    judge_api_key_env: str | None = None,
) -> Task:
    """Any suite file (``-T suite=my-suite.yaml``) or a bundled suite by name."""
    judge = _judge(judge_model, judge_backend, judge_base_url, judge_api_key_env)
    return _task(suite, instances, lengths, queries, prompt, scorer, rel_tol, max_tokens, judge)
