"""Instances x backend -> a predictions journal that survives crashes.

* Journal: ``<out>/predictions.jsonl``, one record per finished request, appended and flushed
  one at a time.  A torn last line (kill -9 mid-write) is detected and cut off on resume.
* Resume: rerunning the same command skips instances already answered or skipped; failed ones
  are tried again.  The newest record of an id wins when reading.
* Manifest: ``<out>/manifest.json`` names the instances file's hash, the backend settings
  (never secrets), prompt, sampling and versions; a rerun with different settings in the same
  folder is refused instead of mixing two runs.
* Over-length prompts are recorded as ``skipped`` with ``skip_reason = "context_length"`` and are
  never scored as wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from holobench._io import exclusive
from holobench._version import __version__
from holobench.backends.base import Backend, ChatMessage, ChatRequest, ContextLengthError, SamplingParams
from holobench.backends.client import MAX_RETRY_AFTER, Client, Outcome, PriceTable
from holobench.backends.registry import BackendOptions, create_backend
from holobench.batches import BATCHES_FILE, BatchDriver
from holobench.cache import ResponseCache
from holobench.environment import suite_versions, versions
from holobench.errors import HoloBenchError
from holobench.fewshot import STOP as FEWSHOT_STOP
from holobench.fewshot import demonstrations, fewshot_record
from holobench.journal import Journal
from holobench.jsonl import file_hash, leading_id, read_instances
from holobench.prompts import AUTO, CLOSED, PROMPTS, prompt_version, render_prompt, split_reasoning
from holobench.records import Instance, Prediction, PromptItem, RunItem
from holobench.run_folder import check_manifest
from holobench.tokenizers import get_tokenizer


class RunConfig(BaseModel):
    """Everything that decides what a run sends; part of its manifest."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    options: BackendOptions = Field(default_factory=BackendOptions)
    prompt: str = "cot"
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    concurrency: int = Field(default=8, ge=1)
    max_rate: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="attempts a second, at most")
    max_retries: int = Field(default=4, ge=0)
    max_retry_after: float = Field(default=MAX_RETRY_AFTER, gt=0, allow_inf_nan=False)
    timeout_s: float = Field(default=600.0, gt=0)
    shard: tuple[int, int] | None = None
    cache_dir: Path | None = Path(".cache/holobench/responses")
    prices: Path | None = None
    tokenizer: str | None = None
    batch_size: int = Field(default=64, ge=1)
    fewshot_seed: int = Field(default=0, description="which generated demonstrations the fewshot prompt shows")
    closed_book: bool = Field(default=False, description="withhold the context: the prompt's '+closed' variant")

    @property
    def prompt_name(self) -> str:
        """The prompt every record names: ``cot``, or ``cot+closed`` for a closed-book run."""
        return self.prompt + CLOSED if self.closed_book else self.prompt


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' with 0 <= i < N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise HoloBenchError(f"--shard {text!r}: expected i/N, e.g. 0/4") from exc
    if not 0 <= i < n:
        raise HoloBenchError(f"--shard {text!r}: need 0 <= i < N")
    return i, n


def in_shard(instance_id: str, shard: tuple[int, int] | None) -> bool:
    """Shards split by a hash of the id, so they stay stable when the file is reordered."""
    if shard is None:
        return True
    digest = int(hashlib.sha256(instance_id.encode("utf-8")).hexdigest()[:12], 16)
    return digest % shard[1] == shard[0]


Item = Instance | PromptItem


def request_for(instance: Item, config: RunConfig) -> ChatRequest:
    """The request for one instance; closed-book, it carries neither the context nor its lines."""
    sampling, metadata = config.sampling, {}
    context = "" if config.closed_book else instance.context
    if config.prompt == "fewshot":  # a raw completion after generated demonstrations, one line long
        demos = demonstrations(instance.db_id, config.fewshot_seed)
        user = render_prompt(config.prompt_name, context, instance.question, demos)
        sampling = sampling.model_copy(update={"stop": tuple(dict.fromkeys((*sampling.stop, *FEWSHOT_STOP)))})
        metadata = {"completion": True}
    else:
        user = render_prompt(config.prompt_name, context, instance.question)
    lines = tuple(instance.lines) if isinstance(instance, Instance | RunItem) and not config.closed_book else ()
    return ChatRequest(
        instance_id=instance.id,
        messages=(ChatMessage(role="user", content=user),),
        sampling=sampling,
        prompt=config.prompt_name,
        context=context,
        question=instance.question,
        lines=lines,
        metadata=metadata,
    )


def prediction_from(instance_id: str, backend: Backend, config: RunConfig, outcome: Outcome) -> Prediction:
    base: dict[str, Any] = {
        "id": instance_id,
        "backend": backend.name,
        "model": backend.model,
        "prompt": config.prompt_name,
        "latency_s": round(outcome.latency_s, 4),
        "attempts": outcome.attempts,
        "cached": outcome.cached,
    }
    if outcome.completion is None:
        error = outcome.error
        if isinstance(error, ContextLengthError):
            return Prediction(**base, status="skipped", skip_reason="context_length", error=str(error))
        return Prediction(**base, status="error", error=f"{getattr(error, 'kind', 'error')}: {error}")
    completion = outcome.completion
    reasoning, answer = split_reasoning(completion.text)
    extra_reasoning = completion.extra.get("reasoning")
    if isinstance(extra_reasoning, str) and extra_reasoning:
        reasoning = extra_reasoning if reasoning is None else f"{extra_reasoning}\n\n{reasoning}"
    return Prediction(
        **base,
        status="ok",
        response=answer,
        reasoning=reasoning,
        usage=completion.usage,
        finish_reason=completion.finish_reason,
        cost_usd=outcome.cost_usd,
        retrieval=completion.extra.get("retrieval"),
    )


def too_long(backend: Backend, config: RunConfig, instance: Item, request: ChatRequest) -> bool:
    window = backend.context_window
    if window is None or backend.reduces_context:
        return False  # unknown window, or a backend (RAG) that shrinks the context first
    tokenizer = get_tokenizer(config.tokenizer or instance.config.tokenizer)
    prompt = sum(tokenizer.count(m.content) for m in request.messages)
    return prompt + request.sampling.max_tokens > window


def over_length(backend: Backend, config: RunConfig, instance: Item, request: ChatRequest) -> Prediction | None:
    """The prediction of a prompt that cannot fit the window (recorded unsent), else None."""
    if not too_long(backend, config, instance, request):
        return None
    error = ContextLengthError(f"prompt needs more than the {backend.context_window}-token window")
    return prediction_from(instance.id, backend, config, Outcome(None, error, 0, 0.0))


async def answer(client: Client, config: RunConfig, instance: Item) -> Prediction:
    """One instance's prediction: skipped unsent when the prompt cannot fit the window."""
    request = request_for(instance, config)
    skipped = over_length(client.backend, config, instance, request)
    return skipped or prediction_from(instance.id, client.backend, config, await client.complete(request))


def manifest_for(instances: Path, config: RunConfig, backend: Backend) -> dict[str, Any]:
    extra = {"fewshot": fewshot_record(instances, config.fewshot_seed)} if config.prompt == "fewshot" else {}
    return {
        **extra,
        "instances": str(instances),
        "instances_sha256": file_hash(instances),
        "backend": backend.settings(),
        "prompt": prompt_version(config.prompt_name),
        "closed_book": config.closed_book,
        "sampling": config.sampling.model_dump(),
        "shard": list(config.shard) if config.shard else None,
        "holobench_version": __version__,
        "versions": versions(backend.library_versions()),
        "suite_versions": suite_versions(instances),
    }


ProgressFn = Callable[[int, int, Client], None]


class Runner:
    def __init__(
        self,
        instances: Path,
        out_dir: Path,
        config: RunConfig,
        backend: Backend | None = None,
        *,
        supersede: bool = False,
    ) -> None:
        if not instances.is_file():
            raise HoloBenchError(f"{instances}: instances file not found; run holobench generate first")
        self.instances = instances
        self.out_dir = out_dir
        self.config = config
        self.supersede = supersede  # a run with other settings in out_dir is moved aside, not refused
        self.superseded: Path | None = None
        self.backend = backend or create_backend(config.backend, config.options)
        if config.prompt == "fewshot" and not self.backend.completions:
            raise HoloBenchError(
                f"--prompt fewshot needs raw text completions, which the {self.backend.name} backend does not send; "
                "use llamacpp, or openai against a server with /v1/completions (vLLM, llama.cpp)"
            )
        if config.prompt not in (*PROMPTS, AUTO):
            raise HoloBenchError(f"--prompt {config.prompt!r}: use one of {', '.join(PROMPTS)}, {AUTO}")
        if config.closed_book and self.backend.reduces_context:
            raise HoloBenchError(f"--closed-book withholds the context the {self.backend.name} backend retrieves from")
        self.journal = Journal(out_dir / "predictions.jsonl")

    def pending(self, done: set[str]) -> Iterator[PromptItem]:
        shard = self.config.shard
        model = RunItem if self.backend.reduces_context else PromptItem
        return read_instances(self.instances, lambda iid: iid in done or not in_shard(iid, shard), model)

    def ids(self) -> list[str]:
        """Instance ids in the shard, read cheaply: records start with their id."""
        out = []
        seen: set[str] = set()
        with self.instances.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8")
                    if not line.strip():
                        continue
                    iid = leading_id(line) or str(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
                    raise HoloBenchError(
                        f"{self.instances}:{number}: not an instance record (no id, or not UTF-8 JSON); "
                        "pass an instances.jsonl from holobench generate"
                    ) from None
                if iid in seen:
                    raise HoloBenchError(
                        f"{self.instances}:{number}: instance id {iid!r} appears twice; "
                        "regenerate the suite (an id names one instance)"
                    )
                seen.add(iid)
                if in_shard(iid, self.config.shard):
                    out.append(iid)
        return out

    def total(self) -> int:
        return len(self.ids())

    async def run(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        with exclusive(self.out_dir, "a holobench run"):
            return await self._run_locked(progress)

    async def _run_locked(self, progress: ProgressFn | None) -> dict[str, Any]:
        shard_ids = self.ids()  # a broken instances file is refused before anything is written
        await self.backend.prepare()
        if self.config.prompt == AUTO:  # a base model gets worked examples, a chat model the cot prompt
            chosen = "fewshot" if self.backend.chat_template is False and self.backend.completions else "cot"
            self.config = self.config.model_copy(update={"prompt": chosen})
        cfg = self.config
        self.superseded = check_manifest(self.out_dir, manifest_for(self.instances, cfg, self.backend), self.supersede)
        previous = self.journal.load(repair=True)
        done = {i for i, p in previous.items() if p.status in ("ok", "skipped")}
        cache = ResponseCache(cfg.cache_dir / "responses.sqlite") if cfg.cache_dir else None
        client = Client(
            self.backend,
            concurrency=cfg.concurrency,
            max_retries=cfg.max_retries,
            timeout=cfg.timeout_s,
            cache=cache,
            prices=PriceTable.load(cfg.prices),
            max_retry_after=cfg.max_retry_after,
            rate=cfg.max_rate,
        )
        total = len(shard_ids)
        finished = len(done & set(shard_ids))
        writer = self.journal.open()
        counts = {"ok": 0, "error": 0, "skipped": 0}

        def record(prediction: Prediction) -> None:
            nonlocal finished
            writer.write(prediction)
            counts[prediction.status] += 1
            finished += 1
            if progress is not None:
                progress(finished, total, client)

        batches: list[dict[str, Any]] = []
        try:
            batches = await self._dispatch(client, done, record)
        finally:
            writer.close()
            await self.backend.aclose()
            if cache is not None:
                cache.close()
        return {"total": total, "this_run": counts, "client": client.summary(), "batches": batches}

    async def _dispatch(
        self, client: Client, done: set[str], record: Callable[[Prediction], None]
    ) -> list[dict[str, Any]]:
        """How pending instances reach the model: through a provider's batch API, in local batches
        or one request per slot (a Ray run sends them to workers instead: :mod:`holobench.ray_run`).
        Returns the provider batches' notes (none outside the batch APIs)."""
        if self.backend.batch_api() is not None:
            return await self._run_provider_batches(client, done, record)
        if self.backend.prefers_batches:
            await self._run_batches(client, done, record)
        else:
            await self._run_concurrent(client, done, record)
        return []

    async def _run_concurrent(
        self, client: Client, done: set[str], record: Callable[[Prediction], None], lanes: int | None = None
    ) -> None:
        """One worker per request slot, all pulling from one shared iterator: an instance is read
        only when a worker is free (memory stays flat on huge files), no task or wait set is built
        per request, and a worker that gets an answer sends its next request without handing
        over to another task.  A request backing off before a retry keeps its worker, so a
        rate-limited endpoint gets fewer requests meanwhile, not the same number from others.
        ``lanes`` workers (default: the concurrency)."""
        items = self.pending(done)
        failed = False  # set by the first worker that fails: the others take no new instance

        async def worker() -> None:
            nonlocal failed
            try:
                for instance in items:  # next() runs between awaits: no two workers get one instance
                    if failed:
                        return
                    record(await self._answer(client, instance))
            except BaseException:
                failed = True
                raise

        workers = [asyncio.ensure_future(worker()) for _ in range(lanes or self.config.concurrency)]
        try:
            # A bad instance record, or a journal that cannot be written, stops every worker from
            # taking more; the others still finish and record the requests they have in flight
            # before the error is raised.
            for result in await asyncio.gather(*workers, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _answer(self, client: Client, instance: PromptItem) -> Prediction:
        return await answer(client, self.config, instance)

    async def _run_provider_batches(
        self, client: Client, done: set[str], record: Callable[[Prediction], None]
    ) -> list[dict[str, Any]]:
        """Through a provider's batch API (holobench.batches), into the same journal."""
        api = self.backend.batch_api()
        assert api is not None
        driver = BatchDriver(api, client, self.out_dir / BATCHES_FILE, self.config.max_retries)

        def requests() -> Iterator[ChatRequest]:
            for instance in self.pending(done | driver.in_flight()):
                request = request_for(instance, self.config)
                skipped = over_length(self.backend, self.config, instance, request)
                if skipped is None:
                    yield request
                else:
                    record(skipped)

        return await driver.run(
            requests(), lambda iid, outcome: record(prediction_from(iid, self.backend, self.config, outcome)), done
        )

    async def _run_batches(self, client: Client, done: set[str], record: Callable[[Prediction], None]) -> None:
        batch: list[PromptItem] = []

        async def flush() -> None:
            requests = [request_for(x, self.config) for x in batch]
            for instance, outcome in zip(batch, await client.complete_batch(requests), strict=True):
                record(prediction_from(instance.id, self.backend, self.config, outcome))
            batch.clear()

        for instance in self.pending(done):
            batch.append(instance)
            if len(batch) >= (self.backend.batch_size or self.config.batch_size):
                await flush()
        if batch:
            await flush()
