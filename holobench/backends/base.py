"""The backend contract: one async method that turns a chat request into a completion.

Backends only translate requests.  Retries, concurrency, timeouts, caching and accounting live
in one place, :class:`holobench.backends.client.Client`, which wraps every backend.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from holobench.errors import HoloBenchError
from holobench.records import LineSource, Usage


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class SamplingParams(BaseModel):
    """Sampling settings sent with every request (part of the cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = Field(default=1024, gt=0)
    seed: int | None = 0
    stop: tuple[str, ...] = ()


class Completion(BaseModel):
    """What a backend returns; ``extra`` carries backend-specific facts (e.g. RAG recall)."""

    text: str
    finish_reason: str | None = None
    usage: Usage = Usage()
    model: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class ChatRequest:
    """One instance, rendered with a prompt; the raw parts travel along for backends (RAG) that
    rebuild the prompt from a different context."""

    instance_id: str
    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams
    prompt: str  # prompt template name
    context: str = ""
    question: str = ""
    lines: tuple[LineSource, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


class BackendError(HoloBenchError):
    """A failed request; ``retryable`` says whether the client should try again."""

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None, kind: str = "error"
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind


class ContextLengthError(BackendError):
    """The prompt does not fit the model's context window: the instance is skipped, not failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, kind="context_length")


# ---------------------------------------------------------------------------------------------
# Provider batch APIs (OpenAI Files + Batches, Anthropic Message Batches).  A batch backend
# translates; holobench.batches.BatchDriver splits, submits, journals the ids, polls, collects.

#: what became of a batch: still running, or ended (completed, expired, failed or cancelled)
Phase = Literal["pending", "ended"]


class BatchLimits(BaseModel):
    """The most one batch may hold; a provider's published limits are the defaults of its
    backend, and ``--option max_requests=.. max_bytes=..`` lowers them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_requests: int = Field(gt=0)
    max_bytes: int = Field(gt=0)


class BatchState(BaseModel):
    """One poll's answer: the phase, the provider's own status word, and why it failed."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    status: str
    detail: str = ""


class BatchAPI(abc.ABC):
    """Submit, poll and read back one batch of requests; ids are the provider's."""

    provider: ClassVar[str] = "batch"

    def __init__(self, limits: BatchLimits, poll_interval: float) -> None:
        self.limits = limits
        self.poll_interval = poll_interval

    @abc.abstractmethod
    def entry(self, custom_id: str, request: ChatRequest) -> bytes:
        """One request as the line the provider's input file (or request list) holds, without a
        newline: its size is what counts toward ``max_bytes``."""

    @abc.abstractmethod
    async def submit(self, entries: list[bytes]) -> str:
        """Create a batch of these entries; return its id."""

    @abc.abstractmethod
    async def poll(self, batch_id: str) -> BatchState:
        """Where the batch stands now."""

    @abc.abstractmethod
    async def results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        """An ended batch's outcomes by custom id.  A request the batch never ran (expired,
        cancelled, a batch that failed validation) is absent: the driver records it as a
        failure to retry, never as an answer."""


def entry_size(entry: bytes) -> int:
    """Bytes an entry adds to a batch: the line and its newline."""
    return len(entry) + 1


class Backend(abc.ABC):
    """Subclass this and implement :meth:`generate`; register the class in ``registry.py``."""

    name: ClassVar[str] = "backend"

    #: the model's context window in tokens when known (from a flag, the server, or the model)
    context_window: int | None = None

    #: distributions whose release can change this backend's answers; their versions go into
    #: the run manifest (``holobench.environment``)
    libraries: ClassVar[tuple[str, ...]] = ()

    #: whether it can send a raw text completion (``request.metadata["completion"]``): the
    #: ``fewshot`` prompt for base models needs it
    completions: ClassVar[bool] = False

    #: whether the model has a chat template (None: unknown); a base model (False) is run with
    #: the ``fewshot`` prompt under ``--prompt auto``. Known after :meth:`prepare`.
    chat_template: bool | None = None

    #: whether the runner should hand it requests in batches (:meth:`generate_batch`) instead of
    #: one at a time under the concurrency bound: an offline engine (vLLM) schedules a batch
    #: itself, far faster than requests trickling in
    prefers_batches: bool = False

    #: requests per batch when it prefers batches; None: the run's ``--batch-size``
    batch_size: int | None = None

    #: whether it rebuilds the context it sends (RAG retrieves lines): the runner then reads each
    #: instance with its line provenance, and does not skip over-long contexts itself, since the
    #: backend's context is what must fit the window
    reduces_context: ClassVar[bool] = False

    def batch_api(self) -> BatchAPI | None:
        """A provider's batch API (:class:`BatchAPI`), or None.  With
        one, the runner submits the run's requests as batches, journals their ids, polls them
        and journals the results, instead of calling :meth:`generate`; the client prices them
        at the batch discount."""
        return None

    def library_versions(self) -> tuple[str, ...]:
        """The distributions to record; a wrapping backend adds its inner backend's."""
        return self.libraries

    @property
    def model(self) -> str:
        return getattr(self, "_model", self.name)

    @abc.abstractmethod
    async def generate(self, request: ChatRequest) -> Completion:
        """One completion for one request; raise BackendError on failure."""

    async def generate_batch(self, requests: Sequence[ChatRequest]) -> list[Completion | BackendError]:
        """Backends with native batching (vLLM offline) override this; the default runs them concurrently."""
        results = await asyncio.gather(*(self.generate(r) for r in requests), return_exceptions=True)
        out: list[Completion | BackendError] = []
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, BackendError):
                raise r
            out.append(r)
        return out

    async def prepare(self) -> None:  # noqa: B027 - optional hook
        """Called once before the first request (load a model, ask a server for its limits)."""

    def settings(self) -> dict[str, Any]:
        """Settings for the manifest and the cache key; never secrets."""
        return {"backend": self.name, "model": self.model}

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, models or worker threads."""
