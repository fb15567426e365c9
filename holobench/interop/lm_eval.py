"""The functions of a task folder that ``holobench export --format lm-eval`` writes: its
``utils.py`` re-exports them and lm-evaluation-harness calls them by name from the YAML.

A document is ``{"id", "prompt", "instance"}`` with the instance as its JSON text: gold rows mix
types from cell to cell, which Arrow cannot hold in one column, so the record travels whole and
is validated back into an :class:`~holobench.records.Instance` where it is read.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from holobench.errors import HoloBenchError
from holobench.interop.replies import gold_text, prediction_of
from holobench.jsonl import read_instances
from holobench.prompts import CLOSED_PROMPTS, PROMPTS, render_prompt
from holobench.records import Instance
from holobench.scoring.match import DEFAULT_REL_TOL
from holobench.scoring.score import match_record

#: prompts for generate_until (``fewshot``'s demonstrations are holobench's own, not lm-eval's)
LM_EVAL_PROMPTS = tuple(p for p in PROMPTS + CLOSED_PROMPTS if not p.startswith("fewshot"))
#: the metric a task reports: holobench's ``match`` score, averaged over instances
METRIC = "match"


def task_dataset(instances: Path, prompt: str = "cot", **_: Any) -> Any:
    """``custom_dataset``: the instances as one ``test`` split (other metadata lm-eval passes is
    the task's, not the dataset's)."""
    import datasets

    if prompt not in LM_EVAL_PROMPTS:
        raise HoloBenchError(f"prompt={prompt!r} in the task's metadata: use one of {', '.join(LM_EVAL_PROMPTS)}")
    docs = [{"id": i.id, "prompt": prompt, "instance": i.model_dump_json()} for i in read_instances(instances)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


@functools.lru_cache(maxsize=64)
def _instance(text: str) -> Instance:
    return Instance.model_validate_json(text)


def doc_to_text(doc: dict[str, Any]) -> str:
    """The user message ``holobench run`` sends for the document's instance."""
    instance = _instance(doc["instance"])
    return render_prompt(doc["prompt"], instance.context, instance.question)


def doc_to_target(doc: dict[str, Any]) -> str:
    """The gold rows as an answer lists them (lm-eval logs it beside each reply)."""
    return gold_text(_instance(doc["instance"]))


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """``match`` for one reply, scored as ``holobench score`` scores the same reply."""
    instance = _instance(doc["instance"])
    prediction = prediction_of(
        instance, results[0] if results else "", backend="lm-eval", model="", prompt=doc["prompt"]
    )
    record = match_record(instance, prediction, DEFAULT_REL_TOL)
    return {METRIC: record.score if record.score is not None else 0.0}
