"""The pieces of a Ray run that need no cluster: the limiter's bookkeeping (a dead worker's
slots come back, and only once), how many workers fit, and the totals a worker's records add up to."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from holobench.backends import ChatMessage, ChatRequest, SamplingParams
from holobench.backends.baselines import NoAnswerBackend
from holobench.backends.client import Client, Pace
from holobench.cli import main
from holobench.errors import HoloBenchError
from holobench.ray_run import _account, _cause, worker_count
from holobench.ray_workers import Limiter
from holobench.records import Prediction, Usage


def test_the_limiter_hands_out_its_slots_and_no_more() -> None:
    async def main() -> None:
        limiter = Limiter(2, grace=0.0)
        assert await limiter.acquire("a") and await limiter.acquire("b")
        third = asyncio.ensure_future(limiter.acquire("a"))
        await asyncio.sleep(0)
        assert not third.done()  # both slots are out
        await limiter.release("b")
        assert await third
        assert await limiter.stats() == {"slots": 2, "peak": 2, "held": 2}

    asyncio.run(main())


def test_a_forgotten_worker_gives_back_what_it_held_once() -> None:
    async def main() -> None:
        limiter = Limiter(2, grace=0.0)
        assert await limiter.acquire("dead") and await limiter.acquire("dead")
        waiting = asyncio.ensure_future(limiter.acquire("live"))
        await limiter.forget("dead")
        assert await waiting
        await limiter.release("dead")  # a late release of the dead worker's must not add a slot
        assert await limiter.acquire("live")
        extra = asyncio.ensure_future(limiter.acquire("live"))
        await asyncio.sleep(0)
        assert not extra.done()  # both slots are the live worker's: the bound holds
        extra.cancel()
        assert await limiter.stats() == {"slots": 2, "peak": 2, "held": 2}

    asyncio.run(main())


def test_a_worker_given_up_for_dead_gets_no_slot() -> None:
    async def main() -> None:
        limiter = Limiter(1, grace=0.0)
        await limiter.forget("dead")
        assert not await limiter.acquire("dead")
        assert await limiter.acquire("live")  # the slot it was handed went back

    asyncio.run(main())


def nodes(*resources: dict[str, float]) -> list[dict[str, Any]]:
    return [{"Resources": r} for r in resources]


def test_worker_counts_are_what_the_cluster_can_place() -> None:
    cluster = nodes({"CPU": 4, "GPU": 2}, {"CPU": 2, "GPU": 8}, {"CPU": 0.0})
    assert worker_count(cluster, 0, None) == 2  # one per node with a CPU
    assert worker_count(cluster, 0, 6) == 6
    assert worker_count(cluster, 2, None) == 5  # 1 + 4 replicas of two GPUs
    assert worker_count(cluster, 8, None) == 1
    with pytest.raises(HoloBenchError, match=r"^a replica needs 16 GPUs on one node"):
        worker_count(cluster, 16, None)
    with pytest.raises(HoloBenchError, match=r"^--ray-workers 7: each worker takes a CPU and the Ray cluster has 6$"):
        worker_count(cluster, 0, 7)
    with pytest.raises(HoloBenchError, match=r"^--ray-workers 3: the Ray cluster's GPUs hold 2 replicas"):
        worker_count(cluster, 4, 3)


def test_a_workers_error_is_its_own_last_line() -> None:
    report = "ActorDiedError: The actor died...\n  File x\nholobench.errors.HoloBenchError: batch_size must be 1+\n"
    assert _cause(RuntimeError(report)) == "batch_size must be 1+"
    assert _cause(RuntimeError("something odd\nmore")) == "something odd"
    assert _cause(RuntimeError("")) == "RuntimeError"


def test_workers_records_add_up_as_the_client_counts() -> None:
    client = Client(NoAnswerBackend())
    base = {"backend": "openai", "model": "m", "prompt": "cot"}
    usage = Usage(prompt_tokens=10, completion_tokens=2)
    _account(client, Prediction(id="a", status="ok", attempts=1, usage=usage, latency_s=0.5, cost_usd=0.1, **base))
    _account(client, Prediction(id="b", status="ok", cached=True, usage=usage, **base))
    _account(client, Prediction(id="c", status="error", attempts=3, error="http: 500", **base))
    _account(client, Prediction(id="d", status="skipped", skip_reason="context_length", **base))  # never sent
    t = client.totals
    assert (t.requests, t.cached, t.failures) == (3, 1, 1)
    assert (t.prompt_tokens, t.completion_tokens, t.cost_usd, t.latencies) == (10, 2, 0.1, [0.5])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--executor", "spark"], "error: --executor 'spark': use one of local, ray"),
        (["--ray-workers", "2"], "error: --ray-workers needs --executor ray"),
        (["--executor", "ray", "--ray-workers", "0"], "error: --ray-workers 0: give a number at least 1"),
    ],
)
def test_where_a_run_goes_is_checked_before_any_work(
    flags: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    smoke_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["holobench", "run", "--instances", str(smoke_file), "--backend", "no-answer", "-o", str(tmp_path / "o")]
    monkeypatch.setattr(sys, "argv", [*argv, *flags])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "o").exists()


class FakeTime:
    """A clock that stands still and records the sleeps asked of it."""

    def __init__(self, now: float = 10.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_pace_spaces_attempts_evenly_and_saves_no_burst() -> None:
    time = FakeTime()
    pace = Pace(4, clock=time.clock, sleep=time.sleep)

    async def four() -> list[float]:
        return [await pace.wait() for _ in range(4)]

    assert asyncio.run(four()) == [10.0, 10.25, 10.5, 10.75]
    assert time.slept == [0.25, 0.5, 0.75]
    time.now = 20.0  # a pause: the next starts at once, and the one after it waits its turn
    assert asyncio.run(four()) == [20.0, 20.25, 20.5, 20.75]
    with pytest.raises(HoloBenchError, match="above 0"):
        Pace(0)


def test_a_rate_paces_every_attempt_of_a_client_and_of_the_limiter() -> None:
    time = FakeTime()
    client = Client(NoAnswerBackend(), rate=4)
    client._pace = Pace(4, clock=time.clock, sleep=time.sleep)
    request = ChatRequest("q", (ChatMessage(role="user", content="q"),), SamplingParams(), "cot")

    async def three() -> None:
        await asyncio.gather(*(client.complete(request) for _ in range(3)))

    asyncio.run(three())
    assert time.slept == [0.25, 0.5]

    async def limited() -> dict[str, float]:
        limiter = Limiter(2, grace=0.0, rate=4)
        limiter.pace = Pace(4, clock=time.clock, sleep=time.sleep)
        assert await limiter.acquire("a") and await limiter.acquire("b")
        await limiter.release("a")
        assert await limiter.acquire("a")
        return await limiter.stats()

    assert asyncio.run(limited())["min_gap_s"] == 0.25
