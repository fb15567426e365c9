"""Anthropic's Message Batches API through the ``anthropic`` SDK: a run's requests go out in
batches of at most 100,000 requests and 256 MB, at half the price; results come back as JSONL.

:meth:`generate` sends a single request to the Messages API (the judge, say).  Usage is recorded
as every input token (``input_tokens`` plus cache reads and writes) with the cache reads and
writes apart, so they are priced at their own rates.  The key is read from ``--api-key-env``
(``ANTHROPIC_API_KEY`` unless named) and never reaches settings, files or errors.  ``--base-url``
is the API root (``https://api.anthropic.com``, no ``/v1``).  Options: ``max_requests``,
``max_bytes``, ``poll_interval`` (seconds, 30), ``prompt_cache`` (``cache_control`` on every
request: repeated prefixes are read from the cache at its rate).
"""

from __future__ import annotations

import json
import os
from typing import Any

import anthropic

from holobench._urls import redact_url
from holobench.backends.base import (
    Backend,
    BackendError,
    BatchAPI,
    BatchLimits,
    BatchState,
    ChatRequest,
    Completion,
    ContextLengthError,
)
from holobench.backends.openai import _CONTEXT_LENGTH, _seconds
from holobench.backends.openai_batch import batch_settings
from holobench.backends.registry import BackendOptions
from holobench.records import Usage

LIMITS = BatchLimits(max_requests=100_000, max_bytes=256_000_000)
OPTIONS = frozenset({"max_requests", "max_bytes", "poll_interval", "prompt_cache"})
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def message_completion(message: dict[str, Any], model: str) -> Completion:
    """A Messages API response -> Completion, with prompt-cache reads and writes."""
    usage = message.get("usage") or {}
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    text = "".join(b.get("text", "") for b in message.get("content") or [] if b.get("type") == "text")
    reason = message.get("stop_reason")
    return Completion(
        text=text,
        finish_reason=FINISH.get(reason, reason) if isinstance(reason, str) else None,
        usage=Usage(
            prompt_tokens=int(usage.get("input_tokens") or 0) + read + written,
            completion_tokens=int(usage.get("output_tokens") or 0),
            cached_prompt_tokens=read,
            cache_write_tokens=written,
        ),
        model=message.get("model") or model,
    )


class AnthropicBatches(BatchAPI):
    provider = "anthropic"

    def __init__(self, backend: AnthropicBatchBackend, limits: BatchLimits, poll_interval: float) -> None:
        super().__init__(limits, poll_interval)
        self.backend = backend

    def entry(self, custom_id: str, request: ChatRequest) -> bytes:
        return json.dumps({"custom_id": custom_id, "params": self.backend.params(request)}, ensure_ascii=False).encode()

    async def submit(self, entries: list[bytes]) -> str:
        requests = [json.loads(e) for e in entries]
        batch = await self.backend.call(self.backend.sdk.messages.batches.create(requests=requests))
        return str(batch.id)

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self.backend.call(self.backend.sdk.messages.batches.retrieve(batch_id))
        if batch.processing_status != "ended":
            return BatchState(phase="pending", status=str(batch.processing_status))
        counts = batch.request_counts  # the word for requests it never ran, as OpenAI's statuses say it
        status = "expired" if counts.expired else "cancelled" if counts.canceled else "ended"
        return BatchState(phase="ended", status=status)

    async def results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        out: dict[str, Completion | BackendError] = {}
        decoder = await self.backend.call(self.backend.sdk.messages.batches.results(batch_id))
        async for item in decoder:
            result = item.result
            if result.type == "succeeded":
                out[item.custom_id] = message_completion(result.message.model_dump(), self.backend.model)
            elif result.type == "errored":
                error = result.error.error
                out[item.custom_id] = self.backend.status_error(400, f"{error.type}: {error.message}", None)
        return out  # canceled and expired requests were never run: absent


class AnthropicBatchBackend(Backend):
    name = "anthropic-batch"
    libraries = ("anthropic",)

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        context_window: int | None = None,
        limits: BatchLimits = LIMITS,
        poll_interval: float = 30.0,
        prompt_cache: bool = False,
    ) -> None:
        self._model = model
        self.prompt_cache = prompt_cache
        self.context_window = context_window
        self._secret = os.environ.get(api_key_env) or ""
        self.sdk = anthropic.AsyncAnthropic(base_url=base_url, api_key=self._secret or "not-set", max_retries=0)
        self.base_url = str(self.sdk.base_url).rstrip("/")
        self._batches = AnthropicBatches(self, limits, poll_interval)

    def batch_api(self) -> BatchAPI:
        return self._batches

    def settings(self) -> dict[str, Any]:
        settings = {"backend": self.name, "model": self._model, "base_url": redact_url(self.base_url)}
        return settings | ({"prompt_cache": True} if self.prompt_cache else {})

    def params(self, request: ChatRequest) -> dict[str, Any]:
        """Messages API parameters, system messages apart.  The API (as of the SDK's 2.x
        releases) takes no temperature, top_p or seed, so they are not sent; with
        ``prompt_cache`` the request asks the API to cache its prefix (``cache_control``)."""
        s = request.sampling
        params: dict[str, Any] = {
            "model": self._model,
            "max_tokens": s.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        }
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        if system:
            params["system"] = system
        if s.stop:
            params["stop_sequences"] = list(s.stop)
        if self.prompt_cache:
            params["cache_control"] = {"type": "ephemeral"}
        return params

    def _clean(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return " ".join(text.split())[:300]

    def status_error(self, status: int, detail: str, retry_after: float | None) -> BackendError:
        detail = self._clean(detail)
        if status in (400, 413) and _CONTEXT_LENGTH.search(detail):
            return ContextLengthError(f"prompt exceeds the context window: {detail}")
        retryable = status in (408, 409, 429) or status >= 500
        return BackendError(f"HTTP {status}: {detail}", retryable=retryable, retry_after=retry_after, kind="http")

    async def call(self, awaitable: Any) -> Any:
        """One SDK call with its errors classified (no key in any text)."""
        try:
            return await awaitable
        except anthropic.APIStatusError as exc:
            retry_after = _seconds(exc.response.headers.get("retry-after"))
            raise self.status_error(exc.status_code, exc.response.text, retry_after) from exc
        except anthropic.APIConnectionError as exc:
            detail = self._clean(str(exc.__cause__ or exc))
            message = f"connection to {redact_url(self.base_url)} failed: {detail}"
            raise BackendError(message, retryable=True, kind="connection") from exc

    async def generate(self, request: ChatRequest) -> Completion:
        message = await self.call(self.sdk.messages.create(**self.params(request)))
        return message_completion(message.model_dump(), self._model)

    async def aclose(self) -> None:
        await self.sdk.close()


def create(options: BackendOptions) -> Backend:
    if not options.model:
        raise BackendError("the anthropic-batch backend needs --model")
    limits, poll = batch_settings(options, LIMITS)
    # run's --api-key-env defaults to OPENAI_API_KEY for every backend; this one's default is its own
    env = "ANTHROPIC_API_KEY" if options.api_key_env == "OPENAI_API_KEY" else options.api_key_env
    cache = bool(options.option("prompt_cache", False, bool))
    return AnthropicBatchBackend(options.model, options.base_url, env, options.context_window, limits, poll, cache)
