"""Several --base-url endpoints as one backend: requests spread to the least loaded, the fleet
named in the settings, the smallest window, and a clear refusal where a fleet makes no sense."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from holobench.backends import BackendOptions, ChatMessage, ChatRequest, SamplingParams, create_backend
from holobench.backends.baselines import NoAnswerBackend
from holobench.backends.fleet import Fleet, fleet_of
from holobench.cli import main
from holobench.errors import HoloBenchError
from holobench.testing.fake_server import FakeOpenAIServer, ServerState, answer_for


@pytest.fixture()
def pair() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    servers = (
        FakeOpenAIServer(ServerState(context_window=8000)).start(),
        FakeOpenAIServer(ServerState(context_window=4000)).start(),
    )
    yield servers
    for server in servers:
        server.stop()


def request(text: str) -> ChatRequest:
    return ChatRequest(text, (ChatMessage(role="user", content=text),), SamplingParams(), "cot")


def test_a_fleet_spreads_requests_and_names_every_endpoint(pair: tuple[FakeOpenAIServer, FakeOpenAIServer]) -> None:
    one, two = pair
    fleet = create_backend(
        "openai", BackendOptions(model="fake-model", base_url=one.base_url, more_base_urls=(two.base_url,))
    )
    assert isinstance(fleet, Fleet) and fleet.name == "openai" and fleet.completions

    async def main() -> list[str]:
        await fleet.prepare()
        try:
            return [c.text for c in await asyncio.gather(*(fleet.generate(request(f"q{i}")) for i in range(10)))]
        finally:
            await fleet.aclose()

    assert asyncio.run(main()) == [answer_for(f"q{i}") for i in range(10)]
    assert (len(one.state.requests), len(two.state.requests)) == (5, 5)  # all in flight at once: in turn
    assert fleet.context_window == 4000  # the smallest any server reports
    assert fleet.settings() == {"backend": "openai", "model": "fake-model", "base_url": [one.base_url, two.base_url]}


def test_the_least_loaded_member_is_chosen_ties_in_turn() -> None:
    fleet = Fleet([NoAnswerBackend(), NoAnswerBackend(), NoAnswerBackend()])
    fleet.in_flight = [2, 0, 1]
    assert fleet._pick() == 1
    fleet.in_flight = [0, 0, 0]
    assert [fleet._pick() for _ in range(4)] == [2, 0, 1, 2]  # after 1: 2, then around


def test_a_fleet_of_one_is_the_backend_and_non_http_backends_take_one_url() -> None:
    lone = NoAnswerBackend()
    assert fleet_of([lone]) is lone
    with pytest.raises(HoloBenchError, match=r"^backend 'no-answer' takes one --base-url; several are for HTTP"):
        fleet_of([NoAnswerBackend(), NoAnswerBackend()])


def test_every_base_url_is_checked_before_any_work(
    capsys: pytest.CaptureFixture[str], smoke_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["holobench", "run", "--instances", str(smoke_file), "--backend", "openai", "--model", "m"]
    argv += ["--base-url", "http://127.0.0.1:9/v1", "--base-url", "ftp://elsewhere/v1", "-o", str(tmp_path / "out")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --base-url") and "ftp://elsewhere/v1" in err and "\n" not in err
    assert not (tmp_path / "out").exists()
