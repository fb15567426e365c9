"""The fewshot prompt for base models: generated demonstrations, both completion paths, auto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from holobench.backends import BackendOptions
from holobench.errors import HoloBenchError
from holobench.fewshot import answer_line, demonstrations
from holobench.jsonl import read_instances
from holobench.prompts import render_prompt
from holobench.records import Label
from holobench.runner import RunConfig, Runner
from holobench.scoring.match import match
from holobench.testing.fake_server import FakeOpenAIServer, ServerState

BUNDLED = ("baseball", "nycflights", "store_1")


@pytest.mark.parametrize("db_id", [*BUNDLED, "wine_1"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_demonstrations_never_come_from_the_database_under_test(db_id: str, seed: int) -> None:
    demos = demonstrations(db_id, seed)
    assert len(demos) == 2
    assert all(d.db_id != db_id for d in demos)
    assert len({d.db_id for d in demos}) == 2  # two other databases when there are two
    for d in demos:
        assert 2 <= len(d.context.splitlines()) <= 20  # a handful of sentences
        assert d.answer and "\n" not in d.answer


def test_demonstrations_are_seeded() -> None:
    demonstrations.cache_clear()
    first = demonstrations("store_1", 3)
    demonstrations.cache_clear()
    assert demonstrations("store_1", 3) == first
    assert any(demonstrations("store_1", s) != first for s in (4, 5, 6))


def test_a_demonstration_answer_is_what_the_scorer_reads_as_its_gold(bundled) -> None:  # type: ignore[no-untyped-def]
    """Each demonstration's answer line, scored against its own instance's gold, is all Exact:
    the model is shown the very format the scorer reads."""
    from holobench.context import InstanceBuilder
    from holobench.fewshot import DEMO_TOKENS
    from holobench.tokenizers import get_tokenizer

    for db_id in BUNDLED:
        for demo in demonstrations(db_id, 0):
            query = next(q for q in bundled.queries(demo.db_id) if q.id == demo.query_id)
            builder = InstanceBuilder(bundled.open(demo.db_id), get_tokenizer("o200k_base"), fillers=[])
            instance = builder.build(
                query, DEMO_TOKENS, placement="uniform", seed=0, amount=DEMO_TOKENS * 2 // 3, sampling="answerable"
            )
            assert instance.context == demo.context
            labels = match(instance.gold.rows, demo.answer, prompt="fewshot").labels
            assert set(labels) == {Label.EXACT}, (demo, instance.gold.rows)


def test_answer_line_format() -> None:
    assert answer_line([["Rock", 1297], ["Latin", 579]]) == "Rock, 1297; Latin, 579"
    assert answer_line([]) == "No answer"
    assert answer_line([[None, 2.5]]) == "NULL, 2.5"


def test_the_prompt_shows_the_demonstrations_then_the_instance() -> None:
    demos = demonstrations("store_1", 0)
    text = render_prompt("fewshot", "Fact one.\nFact two.", "How many?", demos)
    assert text.count("Facts:") == 3 and text.count("Question:") == 3
    assert text.endswith("Facts:\nFact one.\nFact two.\nQuestion: How many?\nAnswer:")
    for demo in demos:
        assert f"Question: {demo.question}\nAnswer: {demo.answer}\n" in text


@pytest.fixture()
def completion_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    srv = FakeOpenAIServer(ServerState(reply=lambda prompt: " 2")).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("transport", ["direct", "sdk"])
def test_fewshot_goes_to_v1_completions(
    completion_server: FakeOpenAIServer, smoke_file: Path, tmp_path: Path, transport: str
) -> None:
    options = BackendOptions(model="base-model", base_url=completion_server.base_url, options={"transport": transport})
    config = RunConfig(backend="openai", options=options, prompt="fewshot", cache_dir=None)
    run = tmp_path / "run"
    asyncio.run(Runner(smoke_file, run, config).run())
    paths = {path for path, _ in completion_server.state.requests}
    assert paths == {"/v1/completions"}
    bodies = [json.loads(body) for _, body in completion_server.state.requests]
    instances = {i.id: i for i in read_instances(smoke_file)}
    for body in bodies:
        assert "messages" not in body and body["stop"] == ["\n"]
        assert body["prompt"].endswith("Answer:") and body["prompt"].count("Facts:") == 3
    # the demonstrations never come from the database of the instance they precede
    for body in bodies:
        db_ids = {
            i.db_id
            for i in instances.values()
            if body["prompt"].endswith(f"{i.context}\nQuestion: {i.question}\nAnswer:")
        }
        assert len(db_ids) == 1
        for demo in demonstrations(db_ids.pop(), 0):
            assert demo.db_id not in db_ids and f"Answer: {demo.answer}\n" in body["prompt"]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert {p["status"] for p in predictions} == {"ok"} and {p["prompt"] for p in predictions} == {"fewshot"}
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["prompt"].startswith("fewshot@")
    assert set(manifest["fewshot"]["demonstrations"]) == set(BUNDLED) and manifest["fewshot"]["seed"] == 0


def test_auto_picks_cot_for_a_server_model_and_fewshot_when_told_it_is_a_base_model(
    completion_server: FakeOpenAIServer, smoke_file: Path, tmp_path: Path
) -> None:
    for chat, expected in ((None, "cot"), ("false", "fewshot"), ("true", "cot")):
        options = {"chat": chat} if chat else {}
        config = RunConfig(
            backend="openai",
            options=BackendOptions(model="m", base_url=completion_server.base_url, options=options),
            prompt="auto",
            cache_dir=None,
        )
        run = tmp_path / f"run-{chat}"
        asyncio.run(Runner(smoke_file, run, config).run())
        assert json.loads((run / "manifest.json").read_text())["prompt"].startswith(f"{expected}@")


def test_fewshot_needs_a_backend_that_sends_completions(smoke_file: Path, tmp_path: Path) -> None:
    config = RunConfig(backend="no-answer", prompt="fewshot", cache_dir=None)
    with pytest.raises(HoloBenchError, match="fewshot needs raw text completions"):
        Runner(smoke_file, tmp_path / "run", config)
    with pytest.raises(HoloBenchError, match="--prompt 'chatty'"):
        Runner(smoke_file, tmp_path / "run", RunConfig(backend="no-answer", prompt="chatty", cache_dir=None))
