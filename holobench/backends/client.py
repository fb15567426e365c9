"""The one wrapper around every backend: bounded concurrency, retries with exponential backoff
and jitter (honouring Retry-After), a per-request timeout, the response cache, and token,
latency and cost accounting."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tenacity
import yaml
from pydantic import BaseModel, ConfigDict, Field

from holobench.backends.base import Backend, BackendError, ChatRequest, Completion
from holobench.cache import ResponseCache, cache_key
from holobench.errors import HoloBenchError
from holobench.prompts import prompt_version
from holobench.records import Usage

DEFAULT_PRICES = Path(__file__).resolve().parent / "prices.yaml"


class Price(BaseModel):
    """One model's rates in USD per million tokens.  Prompt-cache reads and writes have their own
    rates (unset: the input rate); a provider's batch API takes ``batch_discount`` off every rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)
    cached_input_per_million: float | None = Field(default=None, ge=0)
    cache_write_per_million: float | None = Field(default=None, ge=0)
    batch_discount: float = Field(default=0.5, ge=0, le=1)

    @property
    def cached_rate(self) -> float:
        return self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million

    def cost(
        self, prompt_tokens: int, completion_tokens: int, *, cached: int = 0, written: int = 0, batch: bool = False
    ) -> float:
        """``prompt_tokens`` counts every input token; ``cached`` and ``written`` of them are
        priced at the cache's rates instead of the input rate."""
        write_rate = self.input_per_million if self.cache_write_per_million is None else self.cache_write_per_million
        fresh = max(prompt_tokens - cached - written, 0)
        usd = fresh * self.input_per_million + cached * self.cached_rate + written * write_rate
        usd += completion_tokens * self.output_per_million
        return usd / 1e6 * ((1.0 - self.batch_discount) if batch else 1.0)

    def usage_cost(self, usage: Usage, batch: bool = False) -> float:
        return self.cost(
            usage.prompt_tokens,
            usage.completion_tokens,
            cached=usage.cached_prompt_tokens,
            written=usage.cache_write_tokens,
            batch=batch,
        )


class PriceTable:
    """USD per million tokens by model name (glob patterns allowed); users pass their own file."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        table: dict[str, Price] = {}
        for source in [DEFAULT_PRICES, *([path] if path else [])]:
            try:
                data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
                table.update({str(k): Price.model_validate(v) for k, v in data.items()})
            except (OSError, yaml.YAMLError, ValueError) as exc:
                raise HoloBenchError(
                    f"{source}: not a price table ({exc}); expected 'model: {{input_per_million: .., "
                    "output_per_million: ..}}' entries (optional: cached_input_per_million, "
                    "cache_write_per_million, batch_discount)"
                ) from exc
        return cls(table)

    def lookup(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        for pattern, price in self.prices.items():
            if fnmatch.fnmatchcase(model, pattern):
                return price
        return None


@dataclass
class Outcome:
    """The result of one request after retries: a completion, or the last error."""

    completion: Completion | None
    error: BackendError | None
    attempts: int
    latency_s: float
    cached: bool = False
    cost_usd: float | None = None


@dataclass
class Totals:
    requests: int = 0
    cached: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)


# The longest Retry-After a run waits for; a longer one fails the attempt (see Client._too_long).
MAX_RETRY_AFTER = 300.0


def _retryable(error: BaseException) -> bool:
    return isinstance(error, BackendError) and error.retryable


class _Clock:
    """Attempts made and when the first one got a slot."""

    __slots__ = ("attempts", "started")

    def __init__(self) -> None:
        self.attempts = 0
        self.started: float | None = None

    def start(self) -> None:
        self.attempts += 1
        if self.started is None:
            self.started = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.perf_counter() - self.started


class Pace:
    """At most ``rate`` attempts a second, evenly spaced: a server's rate limit kept by the client
    rather than learned from its 429s.  Each caller reserves the next free start time without
    awaiting in between, so callers on one event loop need no lock."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise HoloBenchError("a rate limit must be above 0 requests a second")
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = -math.inf  # the earliest start of the next attempt

    async def wait(self) -> float:
        """Wait for this attempt's turn; returns the time it starts."""
        now = self.clock()
        start = max(now, self._next)
        self._next = start + self.interval
        if start > now:
            await self.sleep(start - now)
        return start


class Client:
    """Wraps a backend; safe to share between tasks of one event loop."""

    def __init__(
        self,
        backend: Backend,
        *,
        concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 600.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        cache: ResponseCache | None = None,
        prices: PriceTable | None = None,
        max_retry_after: float = MAX_RETRY_AFTER,
        slots: AbstractAsyncContextManager[Any] | None = None,
        rate: float | None = None,
    ) -> None:
        """``slots``, when given, is entered around each attempt inside this client's own bound:
        a slot of a bound shared with other processes (a Ray run's workers share one).  ``rate``:
        at most that many attempts a second (:class:`Pace`)."""
        if concurrency < 1:
            raise HoloBenchError("concurrency must be at least 1")
        self.max_retry_after = max_retry_after
        self.backend = backend
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.cache = cache
        self.price = prices.lookup(backend.model) if prices else None
        self.totals = Totals()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._slots: AbstractAsyncContextManager[Any] = slots or contextlib.nullcontext()
        self._pace = Pace(rate) if rate is not None else None

    # ------------------------------------------------------------------ keys and accounting
    def key(self, request: ChatRequest) -> str:
        """Backend settings (endpoint, model), the full prompt, sampling and template version."""
        return cache_key(
            self.backend.settings(),
            [m.model_dump() for m in request.messages],
            request.sampling.model_dump(),
            prompt_version(request.prompt),
            request.metadata.get("cache_salt"),
        )

    def _account(self, outcome: Outcome, batch: bool = False) -> Outcome:
        t = self.totals
        t.requests += 1
        t.cached += outcome.cached
        if outcome.completion is None:
            t.failures += 1
            return outcome
        usage = outcome.completion.usage
        if self.price is not None:
            outcome.cost_usd = self.price.usage_cost(usage, batch=batch)
        if not outcome.cached:
            t.prompt_tokens += usage.prompt_tokens
            t.completion_tokens += usage.completion_tokens
            t.cached_prompt_tokens += usage.cached_prompt_tokens
            t.cache_write_tokens += usage.cache_write_tokens
            t.cost_usd += outcome.cost_usd or 0.0
            t.latencies.append(outcome.latency_s)
        return outcome

    # ------------------------------------------------------------------ one request
    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        exp = tenacity.wait_exponential_jitter(multiplier=self.backoff_base, max=self.backoff_max)(state)
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = exc.retry_after if isinstance(exc, BackendError) and exc.retry_after else 0.0
        return max(float(retry_after), exp)

    async def _attempt(self, request: ChatRequest, clock: _Clock) -> Completion:
        async with self._semaphore, self._slots:  # held per attempt, released while backing off
            if self._pace is not None:
                await self._pace.wait()
            clock.start()
            try:
                async with asyncio.timeout(self.timeout):  # no extra task per request, unlike wait_for
                    return await self.backend.generate(request)
            except TimeoutError as exc:
                raise BackendError(f"no response within {self.timeout:g} s", retryable=True, kind="timeout") from exc

    def _too_long(self, exc: BaseException) -> bool:
        """A server that asks for a wait longer than we allow: give up now instead (a 429 saying
        ``Retry-After: 100000`` would otherwise hold the run for 28 hours)."""
        return isinstance(exc, BackendError) and (exc.retry_after or 0.0) > self.max_retry_after

    def _given_up(self, exc: BackendError) -> BackendError:
        return BackendError(
            f"{exc} (the server asked to wait {exc.retry_after:g} s, more than the {self.max_retry_after:g} s allowed;"
            " raise --max-retry-after to wait)",
            retryable=False,
            kind=exc.kind,
        )

    async def _retry(self, request: ChatRequest, first: BackendError, clock: _Clock) -> Completion:
        """Attempts after a retryable first failure, scheduled by tenacity.  The first attempt is
        made outside it (tenacity's per-call set-up costs more CPU than the rest of a successful
        request's path); tenacity's own first round replays that failure, so its attempt
        numbers, backoff and Retry-After handling are those of a loop that made every attempt."""
        replay: BackendError | None = first
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: _retryable(e) and not self._too_long(e)),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if replay is not None:
                    error, replay = replay, None
                    raise error
                completion = await self._attempt(request, clock)
        return completion

    async def complete(self, request: ChatRequest) -> Outcome:
        """One request after cache, retries and timeout.  Its latency runs from when its first
        attempt gets a slot to its last answer: waiting for that first slot is queueing and does
        not count; retries, their backoff and their waits for a slot do."""
        key = self.key(request) if self.cache is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return self._account(Outcome(Completion.model_validate_json(hit), None, 0, 0.0, cached=True))
        clock = _Clock()
        try:
            try:
                completion = await self._attempt(request, clock)
            except BackendError as exc:
                if not exc.retryable or self.max_retries == 0:
                    raise
                if self._too_long(exc):
                    raise self._given_up(exc) from exc
                try:
                    completion = await self._retry(request, exc, clock)
                except BackendError as last:
                    raise (self._given_up(last) if self._too_long(last) else last) from None
        except BackendError as exc:
            return self._account(Outcome(None, exc, clock.attempts, clock.elapsed()))
        latency = clock.elapsed()
        if self.cache is not None:
            self.cache.put(key, completion.model_dump_json())
        return self._account(Outcome(completion, None, clock.attempts, latency))

    async def complete_batch(self, requests: list[ChatRequest]) -> list[Outcome]:
        """For backends with native batching: cache lookups here, one batched call for the rest."""
        outcomes: list[Outcome | None] = [self.lookup(request) for request in requests]
        todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if todo:
            start = time.perf_counter()
            results = await self.backend.generate_batch([requests[i] for i in todo])
            latency = (time.perf_counter() - start) / len(todo)
            for i, result in zip(todo, results, strict=True):
                key = self.key(requests[i]) if self.cache is not None else None
                outcomes[i] = self.settle(key, result, latency)
        return [o for o in outcomes if o is not None]

    def lookup(self, request: ChatRequest) -> Outcome | None:
        """The cached answer to a request, accounted, or None (batch APIs check before submitting)."""
        hit = self.cache.get(self.key(request)) if self.cache is not None else None
        if hit is None:
            return None
        return self._account(Outcome(Completion.model_validate_json(hit), None, 0, 0.0, cached=True))

    def settle(
        self, key: str | None, result: Completion | BackendError, latency: float, *, batch: bool = False
    ) -> Outcome:
        """A result that came back another way (a batched call; ``batch``: a provider's batch
        API, priced at its discount): cached under ``key`` (from :meth:`key`, None: not cached)
        and accounted as if :meth:`complete` had fetched it."""
        if isinstance(result, BackendError):
            return self._account(Outcome(None, result, 1, latency))
        if self.cache is not None and key is not None:
            self.cache.put(key, result.model_dump_json())
        return self._account(Outcome(result, None, 1, latency), batch=batch)

    def summary(self) -> dict[str, Any]:
        t = self.totals
        return {
            "requests": t.requests,
            "cached": t.cached,
            "failures": t.failures,
            "prompt_tokens": t.prompt_tokens,
            "completion_tokens": t.completion_tokens,
            "cached_prompt_tokens": t.cached_prompt_tokens,
            "cache_write_tokens": t.cache_write_tokens,
            "cost_usd": round(t.cost_usd, 6) if self.price is not None else None,
        }
