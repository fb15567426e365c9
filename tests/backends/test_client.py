"""The wrapper every backend runs behind: bounded concurrency, retries (the first attempt runs
outside tenacity, the rest inside), Retry-After, the per-request timeout, latency and the cache."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from holobench.backends.base import Backend, BackendError, ChatMessage, ChatRequest, Completion, SamplingParams
from holobench.backends.client import Client, Outcome
from holobench.cache import ResponseCache

Step = BackendError | Exception


class Scripted(Backend):
    """A backend that fails each request as its script says, then answers after ``delay``."""

    name = "scripted"

    def __init__(self, script: dict[str, list[Step]] | None = None, delay: float = 0.0) -> None:
        self.script = script or {}
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.started: dict[str, list[float]] = defaultdict(list)
        self.in_flight = 0
        self.peak = 0

    async def generate(self, request: ChatRequest) -> Completion:
        rid = request.instance_id
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            n = self.calls[rid]
            self.calls[rid] += 1
            self.started[rid].append(time.monotonic())
            steps = self.script.get(rid, [])
            if n < len(steps):
                raise steps[n]
            await asyncio.sleep(self.delay)
            return Completion(text=f"answer to {rid}")
        finally:
            self.in_flight -= 1


def request(rid: str) -> ChatRequest:
    return ChatRequest(rid, (ChatMessage(role="user", content=f"question {rid}"),), SamplingParams(), "cot")


def complete(client: Client, *rids: str) -> list[Outcome]:
    async def go() -> list[Outcome]:
        return await asyncio.gather(*(client.complete(request(r)) for r in rids))

    return asyncio.run(go())


def fast(backend: Backend, **kw: object) -> Client:
    """Backoff of a millisecond, so retry tests take no time."""
    settings: dict[str, object] = {"concurrency": 4, "max_retries": 3, "backoff_base": 0.001, "backoff_max": 0.001}
    settings.update(kw)
    return Client(backend, **settings)  # type: ignore[arg-type]


def retryable(status: int = 500, retry_after: float | None = None) -> BackendError:
    return BackendError(f"HTTP {status}", retryable=True, retry_after=retry_after, kind="http")


def test_a_first_answer_takes_one_attempt() -> None:
    backend = Scripted()
    [outcome] = complete(fast(backend), "a")
    assert outcome.completion is not None and outcome.completion.text == "answer to a"
    assert (outcome.attempts, outcome.error, outcome.cached) == (1, None, False)


def test_retryable_failures_are_retried_until_an_answer() -> None:
    backend = Scripted({"a": [retryable(500), retryable(503)]})
    [outcome] = complete(fast(backend), "a")
    assert outcome.completion is not None and outcome.attempts == 3 == backend.calls["a"]


def test_a_permanent_failure_is_not_retried() -> None:
    backend = Scripted({"a": [BackendError("HTTP 401: bad key", kind="http")]})
    [outcome] = complete(fast(backend), "a")
    assert outcome.completion is None and outcome.error is not None and "401" in str(outcome.error)
    assert outcome.attempts == 1 == backend.calls["a"]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_retries_stop_after_max_retries_with_the_last_error(max_retries: int) -> None:
    backend = Scripted({"a": [retryable(500 + i) for i in range(10)]})
    [outcome] = complete(fast(backend, max_retries=max_retries), "a")
    assert outcome.completion is None and outcome.attempts == max_retries + 1 == backend.calls["a"]
    assert str(outcome.error) == f"HTTP {500 + max_retries}"  # the last one, not the first


def test_a_retry_waits_at_least_retry_after() -> None:
    backend = Scripted({"a": [retryable(429, retry_after=0.3), retryable(429, retry_after=0.2)]})
    [outcome] = complete(fast(backend), "a")
    first, second, third = backend.started["a"]
    assert outcome.attempts == 3
    assert second - first >= 0.3 - 0.01 and third - second >= 0.2 - 0.01


@pytest.mark.parametrize("late", [False, True])
def test_a_retry_after_beyond_the_cap_fails_the_request_at_once(late: bool) -> None:
    """``Retry-After: 100000`` is not obeyed for 28 hours: past the cap the request fails."""
    script = [retryable(500), retryable(429, retry_after=100000)] if late else [retryable(429, retry_after=100000)]
    backend = Scripted({"a": script})
    [outcome] = complete(fast(backend, max_retry_after=5), "a")
    assert outcome.completion is None and outcome.attempts == len(script) == backend.calls["a"]
    assert "asked to wait 100000 s, more than the 5 s allowed" in str(outcome.error)
    assert "--max-retry-after" in str(outcome.error)


@given(
    attempt=st.integers(min_value=1, max_value=12),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=120)),
    base=st.floats(min_value=0.001, max_value=5),
    cap=st.floats(min_value=0.001, max_value=90),
)
def test_backoff_honours_retry_after_and_the_cap(
    attempt: int, retry_after: float | None, base: float, cap: float
) -> None:
    client = Client(Scripted(), backoff_base=base, backoff_max=cap)
    state = tenacity.RetryCallState(tenacity.AsyncRetrying(), None, (), {})
    state.attempt_number = attempt
    try:
        raise retryable(429, retry_after)
    except BackendError:
        state.set_exception(sys.exc_info())  # type: ignore[arg-type]
    wait = client._wait(state)
    assert wait >= (retry_after or 0.0)
    assert wait <= max(cap, retry_after or 0.0)


def test_concurrency_is_bounded_and_reached() -> None:
    backend = Scripted({f"r{i}": [retryable()] for i in range(0, 40, 3)}, delay=0.02)
    outcomes = complete(fast(backend, concurrency=5), *(f"r{i}" for i in range(40)))
    assert all(o.completion is not None for o in outcomes)
    assert backend.peak == 5


def test_latency_leaves_out_waiting_for_a_slot() -> None:
    """Four requests through one slot: each one's latency is its own 0.2 s, not the queue's."""
    backend = Scripted(delay=0.2)
    outcomes = complete(fast(backend, concurrency=1), "a", "b", "c", "d")
    assert all(0.2 <= o.latency_s < 0.6 for o in outcomes), [o.latency_s for o in outcomes]


def test_a_request_past_the_timeout_is_retried_then_failed() -> None:
    backend = Scripted(delay=5.0)
    [outcome] = complete(fast(backend, timeout=0.2, max_retries=1), "a")
    assert outcome.completion is None and outcome.error is not None and outcome.error.kind == "timeout"
    assert outcome.attempts == 2 == backend.calls["a"]


def test_a_bug_in_a_backend_is_raised_not_recorded() -> None:
    backend = Scripted({"a": [KeyError("oops")]})
    with pytest.raises(KeyError):
        complete(fast(backend), "a")


def test_answers_are_cached_and_counted_once(tmp_path: Path) -> None:
    backend = Scripted()
    cache = ResponseCache(tmp_path / "responses.sqlite")
    try:
        client = fast(backend, cache=cache)
        complete(client, "a", "b")
        [again] = complete(client, "a")
    finally:
        cache.close()
    assert again.cached and again.attempts == 0 and backend.calls["a"] == 1
    summary = client.summary()
    assert (summary["requests"], summary["cached"], summary["failures"]) == (3, 1, 0)
