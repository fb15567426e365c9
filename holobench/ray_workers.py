"""The actor side of a Ray run (:mod:`holobench.ray_run`): the workers that answer instances,
the limiter they share, and this process's view of their backend.  Plain classes, which Ray
wraps as actors when a run opens its workers; Ray is imported only inside their methods."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from holobench.backends.base import Backend, ChatRequest, Completion
from holobench.backends.client import Client, Pace, PriceTable
from holobench.backends.registry import create_backend
from holobench.cache import ResponseCache
from holobench.errors import HoloBenchError
from holobench.records import Prediction
from holobench.runner import Item, RunConfig, answer, prediction_from, request_for


class WorkerFacts(BaseModel):
    """What a worker's backend says about itself once prepared: the driver's view of it."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: str
    settings: dict[str, Any]
    libraries: tuple[str, ...]
    completions: bool
    chat_template: bool | None
    prefers_batches: bool
    batch_size: int | None
    reduces_context: bool
    context_window: int | None
    batch_api: bool = False
    node: str
    gpus: tuple[str, ...]
    holder: str  # the worker's actor id, as the limiter counts its slots


class Limiter:
    """The cluster's one concurrency bound and rate (a Ray actor): slots handed to workers'
    attempts, each at its turn when there is a rate, and counted per worker, so a dead worker's
    slots can be taken back.  They come back only after
    ``grace`` seconds (the run's per-attempt timeout, the longest a live attempt holds one): a
    server may still be working on what the dead worker sent."""

    def __init__(self, slots: int, grace: float, rate: float | None = None) -> None:
        self.slots = slots
        self.grace = grace
        self.pace = Pace(rate) if rate is not None else None
        self.last_start: float | None = None
        self.min_gap = math.inf  # the shortest time between two attempts' starts
        self.held: Counter[str] = Counter()
        self.gone: set[str] = set()
        self.peak = 0
        self._free: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._free is None:  # made in the actor's event loop
            self._free = asyncio.Semaphore(self.slots)
        return self._free

    async def acquire(self, holder: str) -> bool:
        """Wait for a slot; False (and no slot) for a worker already given up for dead."""
        free = self._semaphore()
        await free.acquire()
        if holder in self.gone:
            free.release()
            return False
        self.held[holder] += 1
        self.peak = max(self.peak, sum(self.held.values()))
        if self.pace is not None:  # the slot is held while the attempt waits for its turn
            start = await self.pace.wait()
            if self.last_start is not None:
                self.min_gap = min(self.min_gap, start - self.last_start)
            self.last_start = start
        return True

    async def release(self, holder: str) -> None:
        if holder in self.gone or self.held[holder] <= 0:
            return  # a dead worker's slots were counted when it was forgotten
        self.held[holder] -= 1
        self._semaphore().release()

    async def forget(self, holder: str) -> None:
        """A worker died: what it held returns after the grace period; later calls are ignored."""
        self.gone.add(holder)
        lost = self.held.pop(holder, 0)
        await asyncio.sleep(self.grace)
        for _ in range(lost):
            self._semaphore().release()

    async def stats(self) -> dict[str, float]:
        """The bound, the most slots ever held at once, those held now, and (with a rate) the
        shortest time between two attempts' starts."""
        stats: dict[str, float] = {"slots": self.slots, "peak": self.peak, "held": sum(self.held.values())}
        if self.pace is not None and self.min_gap < math.inf:
            stats["min_gap_s"] = self.min_gap
        return stats


class SharedSlot:
    """A worker's side of the limiter: an async context manager around one attempt."""

    def __init__(self, limiter: Any, holder: str) -> None:
        self.limiter = limiter
        self.holder = holder

    async def __aenter__(self) -> None:
        if not await self.limiter.acquire.remote(self.holder):
            raise HoloBenchError("this Ray worker was given up for dead by the run")

    async def __aexit__(self, *exc: object) -> None:
        self.limiter.release.remote(self.holder)  # not awaited: the answer need not wait for it


class Worker:
    """One worker actor: a backend of its own, answering instances with the driver's config."""

    def __init__(self, config_json: str, limiter: Any) -> None:
        import ray

        self.config = RunConfig.model_validate_json(config_json)
        self.backend = create_backend(self.config.backend, self.config.options)
        self.limiter = limiter
        self.holder = ray.get_runtime_context().get_actor_id() or ""
        self.client: Client | None = None

    async def describe(self) -> WorkerFacts:
        import ray

        backend = self.backend
        await backend.prepare()
        return WorkerFacts(
            name=backend.name,
            model=backend.model,
            settings=backend.settings(),
            libraries=backend.library_versions(),
            completions=backend.completions,
            chat_template=backend.chat_template,
            prefers_batches=backend.prefers_batches,
            batch_size=backend.batch_size,
            reduces_context=backend.reduces_context,
            context_window=backend.context_window,
            batch_api=backend.batch_api() is not None,
            node=ray.get_runtime_context().get_node_id(),
            gpus=tuple(str(gpu) for gpu in ray.get_gpu_ids()),
            holder=self.holder,
        )

    async def configure(self, config_json: str) -> None:
        """The run's final config (its prompt resolved), and a client for it."""
        config = self.config = RunConfig.model_validate_json(config_json)
        self.client = Client(
            self.backend,
            concurrency=config.concurrency,
            max_retries=config.max_retries,
            timeout=config.timeout_s,
            cache=ResponseCache(config.cache_dir / "responses.sqlite") if config.cache_dir else None,
            prices=PriceTable.load(config.prices),
            max_retry_after=config.max_retry_after,
            slots=SharedSlot(self.limiter, self.holder) if self.limiter is not None else None,
        )

    async def answer(self, item: Item) -> Prediction:
        assert self.client is not None, "configure first"
        return await answer(self.client, self.config, item)

    async def answer_batch(self, items: list[Item]) -> list[Prediction]:
        assert self.client is not None, "configure first"
        outcomes = await self.client.complete_batch([request_for(item, self.config) for item in items])
        return [prediction_from(i.id, self.backend, self.config, o) for i, o in zip(items, outcomes, strict=True)]


class RemoteBackend(Backend):
    """This process's stand-in for the workers' backend: what the runner checks and the manifest
    records come from a worker; requests never go through it."""

    def __init__(self, facts: WorkerFacts) -> None:
        self.facts = facts
        self._model = facts.model
        self.chat_template = facts.chat_template
        self.context_window = facts.context_window
        self.prefers_batches = facts.prefers_batches
        self.batch_size = facts.batch_size

    def library_versions(self) -> tuple[str, ...]:
        return self.facts.libraries

    def settings(self) -> dict[str, Any]:
        return dict(self.facts.settings)

    async def generate(self, request: ChatRequest) -> Completion:
        raise HoloBenchError("a Ray run's requests are sent by its workers")


def remote_backend(facts: WorkerFacts) -> Backend:
    """A :class:`RemoteBackend` with the class-level facts (name, completions, context reduction)."""
    fields = {"name": facts.name, "completions": facts.completions, "reduces_context": facts.reduces_context}
    backend: Backend = type("RemoteBackend", (RemoteBackend,), fields)(facts)
    return backend
