"""Baselines that need no model: the floor a suite gives for free."""

from __future__ import annotations

from holobench.backends.base import Backend, ChatRequest, Completion
from holobench.backends.registry import BackendOptions
from holobench.records import Usage

NO_ANSWER = "No answer"


class NoAnswerBackend(Backend):
    """Always answers "No answer": scores exactly the instances whose gold is empty."""

    name = "no-answer"

    def __init__(self) -> None:
        self._model = "no-answer"

    async def generate(self, request: ChatRequest) -> Completion:
        return Completion(text=NO_ANSWER, finish_reason="stop", usage=Usage(), model=self._model)


OPTIONS: frozenset[str] = frozenset()


def create(options: BackendOptions) -> Backend:
    return NoAnswerBackend()
