"""A small suite and a loopback server whose replies are right, half right, wrong or abstain by
instance, so a score that one harness computes differently from another shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from holobench.jsonl import read_instances
from holobench.records import Instance
from holobench.suite import QuerySelection, generate_suite, load_suite
from holobench.testing.fake_server import FakeOpenAIServer, ServerState

#: two queries of the smoke suite: 8 instances at 1k tokens
QUERIES = ("store_1-q001", "nycflights-q003")


@pytest.fixture(scope="session")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A suite folder (instances.jsonl and manifest.json) cut from the smoke suite."""
    out = tmp_path_factory.mktemp("tiny-suite")
    generate_suite(load_suite("smoke").model_copy(update={"queries": QuerySelection(ids=QUERIES)}), out)
    return out


@pytest.fixture(scope="session")
def tiny_instances(tiny_suite: Path) -> list[Instance]:
    return list(read_instances(tiny_suite / "instances.jsonl"))


def reply_for(instance: Instance, index: int) -> str:
    """The index-th instance's reply: in turn every gold row (after a reasoning block), the first
    half of them, a wrong answer, and "none"."""
    rows = [", ".join(str(v) for v in row) for row in instance.gold.rows]
    kind = index % 4
    if kind == 0:
        return "<think>Counting the lines.</think>\nFinal answer:\n" + "\n".join(f"- {r}" for r in rows or ["none"])
    if kind == 1:
        return "Final answer:\n" + "\n".join(f"- {r}" for r in rows[: max(1, len(rows) // 2)] or ["none"])
    if kind == 2:
        return "Final answer: Springfield, 424242"
    return "I looked through every sentence.\nFinal answer: none"


def reply_by_prompt(instances: list[Instance]) -> Callable[[str], str]:
    """The server's reply function: the instance is the one whose context and question the prompt holds."""

    def reply(prompt: str) -> str:
        for index, instance in enumerate(instances):
            if instance.question in prompt and instance.context in prompt:
                return reply_for(instance, index)
        return "Final answer: no instance matched this prompt"

    return reply


@pytest.fixture()
def answering_server(tiny_instances: list[Instance]) -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer(ServerState(reply=reply_by_prompt(tiny_instances))).start()
    yield srv
    srv.stop()
