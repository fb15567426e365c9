"""Runs on Ray: workers on any node answer instances; this process keeps the journal.

* **HTTP endpoints** (``openai``, one ``--base-url`` or a fleet of them): one async worker actor
  per node by default, each with its own client (rendering, retries, timeouts, and that node's
  response cache).  Every attempt first takes a slot from one small limiter actor on this
  process's node, so the whole cluster never has more than ``--concurrency`` requests out, the
  bound one machine would respect.
* **Engines holding GPUs** (``vllm``): one replica actor per ``tensor_parallel_size`` GPUs,
  placed by Ray; each takes whole batches, as the offline engine wants them.
* This process reads the instances, sends each (or each batch) to the least busy live worker,
  and appends the predictions it gets back to the journal: one writer, so resume-by-id is what
  it is for a local run.  A worker that dies (its node removed) loses only what it had in
  flight, and that goes to the surviving workers; with none left the run stops, and rerunning
  the same command resumes it.

Ray is imported only when a run opens its workers; the actor classes (:mod:`holobench.ray_workers`)
are plain classes that Ray wraps then.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from holobench.backends.client import Client
from holobench.backends.registry import BackendOptions
from holobench.errors import HoloBenchError
from holobench.executors import _connect, _import_ray, ray_address
from holobench.ray_workers import Limiter, Worker, WorkerFacts, remote_backend
from holobench.records import Prediction, PromptItem
from holobench.runner import ProgressFn, RunConfig, Runner

#: GPUs one replica of a backend holds, by backend name: one line per engine that runs in the
#: worker's process.  Backends not listed send requests elsewhere and hold none.
GPUS_PER_REPLICA: dict[str, Callable[[BackendOptions], int]] = {
    "vllm": lambda options: options.option("tensor_parallel_size", 1, int),
}


def portable(config: RunConfig) -> RunConfig:
    """The config as workers read it: the cache and price table at absolute paths (each node
    keeps its own response cache there; a price table must be at that path on every node)."""
    cache, prices = config.cache_dir, config.prices
    return config.model_copy(
        update={"cache_dir": cache.resolve() if cache else None, "prices": prices.resolve() if prices else None}
    )


def worker_count(nodes: list[dict[str, Any]], gpus: int, wanted: int | None) -> int:
    """How many workers to start on these (alive) nodes, refusing a number Ray could never
    place (it would wait for resources forever): by default one per node with a CPU, or as many
    replicas of ``gpus`` GPUs on one node as the nodes hold."""
    if gpus:
        fits = sum(int(node["Resources"].get("GPU", 0)) // gpus for node in nodes)
        if fits == 0:
            raise HoloBenchError(
                f"a replica needs {gpus} GPUs on one node (tensor_parallel_size) and no node of the Ray cluster "
                "has that many; lower tensor_parallel_size or add GPUs"
            )
        what = f"the Ray cluster's GPUs hold {fits} replicas of {gpus} GPUs"
    else:
        fits = sum(int(node["Resources"].get("CPU", 0)) for node in nodes)
        what = f"each worker takes a CPU and the Ray cluster has {fits}"
    count = wanted or (fits if gpus else sum(1 for node in nodes if node["Resources"].get("CPU", 0) >= 1))
    if count < 1 or count > fits:
        raise HoloBenchError(f"--ray-workers {count}: {what}")
    return count


def _cause(exc: BaseException) -> str:
    """What a worker raised, out of Ray's report around it: the message of its last
    ``...Error: message`` line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    raised = [line for line in lines if line.split(": ", 1)[0].endswith(("Error", "Exception")) and ": " in line]
    return raised[-1].split(": ", 1)[1] if raised else (lines or [type(exc).__name__])[0]


class WorkerPool:
    """The run's workers and the limiter they share.  A call goes to the least busy live worker;
    one whose worker dies goes to another, and the dead worker's slots go back to the limiter."""

    def __init__(self, config: RunConfig, address: str | None = None, workers: int | None = None) -> None:
        self.ray = _import_ray()
        self._owns_connection = not self.ray.is_initialized()
        if self._owns_connection:
            _connect(self.ray, ray_address(address))
        self.handles: list[Any] = []
        self.limiter: Any = None
        self.answered: Counter[str] = Counter()  # calls answered, by node id
        try:
            self._start(config, workers)
        except BaseException:
            self.close()
            raise
        self.busy = [0] * len(self.handles)
        self.alive = [True] * len(self.handles)

    def _start(self, config: RunConfig, workers: int | None) -> None:
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        gpus = GPUS_PER_REPLICA[config.backend](config.options) if config.backend in GPUS_PER_REPLICA else 0
        count = worker_count([n for n in ray.nodes() if n["Alive"]], gpus, workers)
        if not gpus:  # the limiter lives on this process's node, which the run cannot outlive anyway
            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
            limiter = ray.remote(Limiter).options(num_cpus=0, scheduling_strategy=here)
            self.limiter = limiter.remote(config.concurrency, config.timeout_s, config.max_rate)
        placement = {"num_gpus": gpus, "num_cpus": 0} if gpus else {"num_cpus": 1, "scheduling_strategy": "SPREAD"}
        actor = ray.remote(Worker).options(**placement)
        payload = portable(config).model_dump_json()
        self.handles = [actor.remote(payload, self.limiter) for _ in range(count)]
        try:
            self.facts: list[WorkerFacts] = ray.get([handle.describe.remote() for handle in self.handles])
        except ray.exceptions.RayError as exc:
            raise HoloBenchError(f"a Ray worker could not start the {config.backend} backend: {_cause(exc)}") from None

    def live(self) -> list[Any]:
        return [handle for handle, alive in zip(self.handles, self.alive, strict=True) if alive]

    def _least_busy(self) -> int:
        live = [i for i, alive in enumerate(self.alive) if alive]
        if not live:
            raise HoloBenchError(
                "every Ray worker of this run is gone (their nodes left the cluster); "
                "what they answered is in the journal: rerun the same command to resume"
            )
        return min(live, key=lambda i: self.busy[i])

    def _lost(self, index: int) -> None:
        if self.alive[index]:
            self.alive[index] = False
            if self.limiter is not None:
                self.limiter.forget.remote(self.facts[index].holder)

    async def configure(self, payload: str) -> None:
        """The run's final config to every live worker; one that died meanwhile is marked lost."""
        for index, handle in enumerate(self.handles):
            if self.alive[index]:
                try:
                    await handle.configure.remote(payload)
                except self.ray.exceptions.RayActorError:
                    self._lost(index)

    async def call(self, method: str, payload: Any) -> Any:
        """``method(payload)`` on a live worker, moving on to another while workers die."""
        while True:
            index = self._least_busy()
            self.busy[index] += 1
            try:
                result = await getattr(self.handles[index], method).remote(payload)
            except self.ray.exceptions.RayActorError:
                self._lost(index)
                continue
            finally:
                self.busy[index] -= 1
            self.answered[self.facts[index].node] += 1
            return result

    async def limits(self) -> dict[str, float]:
        """The limiter's :meth:`~holobench.ray_workers.Limiter.stats` (empty without a limiter)."""
        return {} if self.limiter is None else dict(await self.limiter.stats.remote())

    def close(self) -> None:
        """Stop the workers and the limiter; leave a cluster this pool joined, not one it found."""
        ray = self.ray
        if not ray.is_initialized():
            return
        for handle in [*self.handles, *([self.limiter] if self.limiter is not None else [])]:
            ray.kill(handle)
        if self._owns_connection:
            ray.shutdown()


def _account(client: Client, prediction: Prediction) -> None:
    """A worker's prediction in this process's totals, as the client would have counted it."""
    t = client.totals
    if prediction.attempts == 0 and not prediction.cached:
        return  # skipped before sending (too long for the window)
    t.requests += 1
    t.cached += prediction.cached
    if prediction.status != "ok":
        t.failures += 1
    elif not prediction.cached:
        t.prompt_tokens += prediction.usage.prompt_tokens
        t.completion_tokens += prediction.usage.completion_tokens
        t.cost_usd += prediction.cost_usd or 0.0
        t.latencies.append(prediction.latency_s)


class RayRunner(Runner):
    """A :class:`Runner` whose requests are sent by workers on a Ray cluster; the manifest, the
    journal and resuming are the runner's own."""

    def __init__(
        self,
        instances: Path,
        out_dir: Path,
        config: RunConfig,
        *,
        address: str | None = None,
        workers: int | None = None,
        supersede: bool = False,
    ) -> None:
        if not instances.is_file():  # before any worker starts
            raise HoloBenchError(f"{instances}: instances file not found; run holobench generate first")
        self.pool = WorkerPool(config, address, workers)
        self.limits: dict[str, float] = {}
        try:
            if self.pool.facts[0].batch_api:  # the workers would send each request alone, at full price
                raise HoloBenchError(
                    f"--executor ray: {config.backend} hands the whole run to the provider's batch API from one "
                    "process; run it with --executor local"
                )
            super().__init__(instances, out_dir, config, remote_backend(self.pool.facts[0]), supersede=supersede)
        except BaseException:
            self.pool.close()
            raise

    async def run(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        try:
            return await super().run(progress)
        finally:
            self.pool.close()

    async def _dispatch(
        self, client: Client, done: set[str], record: Callable[[Prediction], None]
    ) -> list[dict[str, Any]]:
        await self.pool.configure(portable(self.config).model_dump_json())  # the prompt is resolved by now

        def counted(prediction: Prediction) -> None:
            _account(client, prediction)
            record(prediction)

        if self.backend.prefers_batches:
            await self._run_remote_batches(done, counted)
        else:  # a few more calls out than slots, so each worker has the next instance at hand
            await self._run_concurrent(client, done, counted, lanes=self.config.concurrency + 4 * len(self.pool.live()))
        self.limits = await self.pool.limits()
        return []

    async def _answer(self, client: Client, instance: PromptItem) -> Prediction:
        prediction: Prediction = await self.pool.call("answer", instance)
        return prediction

    async def _run_remote_batches(self, done: set[str], record: Callable[[Prediction], None]) -> None:
        """One lane per replica, each taking the next batch from one shared iterator."""
        size = self.backend.batch_size or self.config.batch_size
        items = self.pending(done)
        batches: Iterator[list[Any]] = iter(lambda: list(itertools.islice(items, size)), [])

        async def lane() -> None:
            for batch in batches:
                for prediction in await self.pool.call("answer_batch", batch):
                    record(prediction)

        lanes = [asyncio.ensure_future(lane()) for _ in self.pool.live()]
        try:
            await asyncio.gather(*lanes)
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
