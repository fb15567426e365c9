"""A reply collected by another harness, as the prediction holobench would have journalled: the
same reasoning split as the runner's, so its scorers see the very answer they see in a run."""

from __future__ import annotations

from holobench.prompts import split_reasoning
from holobench.records import Instance, Prediction

#: what another harness's stop reasons mean to holobench (a cut-off reply is not scored)
FINISH_REASONS = {"max_tokens": "length", "model_length": "length", "length": "length", "stop": "stop"}


def prediction_of(
    instance: Instance, reply: str, *, backend: str, model: str, prompt: str, finish_reason: str | None = None
) -> Prediction:
    """The journal record a run would have written for ``reply`` to ``instance``."""
    reasoning, answer = split_reasoning(reply)
    return Prediction(
        id=instance.id,
        backend=backend,
        model=model,
        prompt=prompt,
        status="ok",
        response=answer,
        reasoning=reasoning,
        finish_reason=FINISH_REASONS.get(finish_reason or "", finish_reason),
    )


def gold_text(instance: Instance) -> str:
    """The gold rows as an answer would list them: the target a harness's viewer shows."""
    if not instance.gold.rows:
        return "none"
    return "\n".join("- " + ", ".join("NULL" if v is None else str(v) for v in row) for row in instance.gold.rows)
