"""``rag``: retrieval-augmented generation over another backend, the HoloBench paper's RAG baseline.

Per request the context is cut into chunks of whole lines (one line each, or token windows),
the chunks are scored against the question (BM25 or dense embeddings), the best ones are kept
up to a token budget and put back in context order, and the inner backend answers from that
reduced context.  ``Completion.extra["retrieval"]`` reports what was kept, with the recall of
relevant lines taken from the instance's line provenance.

Options (``--option key=value``; the others go to the inner backend): ``inner`` (default
openai), ``chunking`` (line | window), ``window_tokens`` (256), ``retriever`` (bm25 | dense),
``embedder`` (st | openai), ``embed_model``, ``embed_base_url``, ``embed_device``,
``embed_batch_size``, ``embed_cache`` (entries), ``budget`` (2048), ``tokenizer`` (o200k_base),
``stemmer`` (english | none), ``stopwords`` (en | none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from holobench.backends.base import Backend, BackendError, ChatMessage, ChatRequest, Completion
from holobench.backends.registry import BackendOptions, create_backend
from holobench.backends.retrieval import (
    BM25Scorer,
    Chunk,
    Embedder,
    OpenAIEmbedder,
    Scores,
    SentenceTransformerEmbedder,
    chunk_lines,
    select,
)
from holobench.errors import HoloBenchError
from holobench.prompts import render_prompt
from holobench.tokenizers import DEFAULT_TOKENIZER, Tokenizer, count_many, get_tokenizer

RAG_KEYS = frozenset(
    {
        "inner", "chunking", "window_tokens", "retriever", "embedder", "embed_model", "embed_base_url",
        "embed_device", "embed_batch_size", "embed_cache", "budget", "tokenizer", "stemmer", "stopwords",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Retrieved:
    """The kept chunks of one request and the facts reported in ``extra["retrieval"]``."""

    lines: list[int]  # kept line indices, in context order
    info: dict[str, Any]


def _choice(options: BackendOptions, key: str, default: str, allowed: Sequence[str]) -> str:
    value = str(options.option(key, default)).strip().lower()
    if value not in allowed:
        raise HoloBenchError(f"option {key}={value!r}: use one of {', '.join(allowed)}")
    return value


def _positive(options: BackendOptions, key: str, default: int) -> int:
    value = int(options.option(key, default, int))
    if value < 1:
        raise HoloBenchError(f"option {key}={value} must be a positive integer")
    return value


class RagBackend(Backend):
    name = "rag"
    libraries = ("bm25s", "sentence-transformers")
    #: the prompt sent is built from the retrieved lines, not the full context: a runner that
    #: checks the full prompt against ``context_window`` beforehand should skip that check
    reduces_context: ClassVar[bool] = True

    def __init__(
        self,
        inner: Backend,
        *,
        retriever: str = "bm25",
        chunking: str = "line",
        budget: int = 2048,
        window_tokens: int = 256,
        tokenizer: str = DEFAULT_TOKENIZER,
        bm25: BM25Scorer | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        if retriever == "dense" and embedder is None:
            raise HoloBenchError("dense retrieval needs an embedder")
        if chunking == "window" and window_tokens > budget:
            raise HoloBenchError(f"window_tokens={window_tokens} is larger than budget={budget}: nothing would fit")
        self.inner = inner
        self.retriever = retriever
        self.chunking = chunking
        self.budget = budget
        self.window_tokens = window_tokens
        self.tokenizer_name = tokenizer
        self._tokenizer: Tokenizer = get_tokenizer(tokenizer)
        self.bm25 = bm25 or BM25Scorer()
        self.embedder = embedder if retriever == "dense" else None

    # ------------------------------------------------------------------ what the inner backend has
    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def context_window(self) -> int | None:
        return self.inner.context_window

    @context_window.setter
    def context_window(self, value: int | None) -> None:
        self.inner.context_window = value

    @property
    def prefers_batches(self) -> bool:
        return self.inner.prefers_batches

    @prefers_batches.setter
    def prefers_batches(self, value: bool) -> None:
        self.inner.prefers_batches = value

    def settings(self) -> dict[str, Any]:
        rag: dict[str, Any] = {
            "retriever": self.retriever,
            "chunking": self.chunking,
            "budget": self.budget,
            "tokenizer": self.tokenizer_name,
        }
        if self.chunking == "window":
            rag["window_tokens"] = self.window_tokens
        rag.update(self.embedder.settings() if self.embedder is not None else self.bm25.settings())
        return {"backend": self.name, "model": self.model, "rag": rag, "inner": self.inner.settings()}

    def library_versions(self) -> tuple[str, ...]:
        return (*self.libraries, *self.inner.library_versions())

    async def prepare(self) -> None:
        await self.inner.prepare()
        if self.embedder is not None:
            await self.embedder.prepare()

    async def aclose(self) -> None:
        try:
            if self.embedder is not None:
                await self.embedder.aclose()
        finally:
            await self.inner.aclose()

    # ------------------------------------------------------------------ retrieval
    def _chunks(self, lines: list[str]) -> list[Chunk]:
        counts = count_many(self._tokenizer, [line + "\n" for line in lines])
        return chunk_lines(lines, counts, self.window_tokens if self.chunking == "window" else None)

    async def retrieve(self, request: ChatRequest) -> Retrieved:
        """Chunk, score and select (CPU work runs in worker threads)."""
        lines = request.context.split("\n") if request.context else []
        if request.lines and len(request.lines) != len(lines):
            raise BackendError(
                f"instance {request.instance_id}: {len(request.lines)} line sources for {len(lines)} context lines",
                kind="bad_request",
            )
        chunks = await asyncio.to_thread(self._chunks, lines)
        texts = [c.text for c in chunks]
        scores: Scores
        if self.embedder is not None:
            scores = await self.embedder.scores(request.question, texts)
        else:
            scores = await asyncio.to_thread(self.bm25.score, request.question, texts)
        kept = select(chunks, scores, self.budget)
        kept_lines = [i for c in kept for i in range(c.start, c.stop)]
        relevant: int | None = None
        found: int | None = None
        if request.lines:
            relevant = sum(1 for s in request.lines if s.relevant)
            found = sum(1 for i in kept_lines if request.lines[i].relevant)
        info = {
            "recall": (found / relevant if relevant else 1.0) if relevant is not None and found is not None else None,
            "relevant_lines": relevant,
            "retrieved_relevant": found,
            "retrieved_lines": len(kept_lines),
            "retrieved_chunks": len(kept),
            "total_chunks": len(chunks),
            "retrieved_tokens": sum(c.tokens for c in kept),
            "budget": self.budget,
            "retriever": self.retriever,
            "chunking": self.chunking,
        }
        return Retrieved(kept_lines, info)

    def reduced_request(self, request: ChatRequest, kept_lines: list[int]) -> ChatRequest:
        """The same request over the kept lines only, with the prompt rendered anew."""
        lines = request.context.split("\n") if request.context else []
        context = "\n".join(lines[i] for i in kept_lines)
        user = ChatMessage(role="user", content=render_prompt(request.prompt, context, request.question))
        system = tuple(m for m in request.messages if m.role == "system")
        return ChatRequest(
            instance_id=request.instance_id,
            messages=(*system, user),
            sampling=request.sampling,
            prompt=request.prompt,
            context=context,
            question=request.question,
            lines=tuple(request.lines[i] for i in kept_lines) if request.lines else (),
            metadata=dict(request.metadata),
        )

    async def _reduce(self, request: ChatRequest) -> tuple[ChatRequest, dict[str, Any]]:
        retrieved = await self.retrieve(request)
        return self.reduced_request(request, retrieved.lines), retrieved.info

    @staticmethod
    def _with_info(completion: Completion, info: dict[str, Any]) -> Completion:
        return completion.model_copy(update={"extra": {**completion.extra, "retrieval": info}})

    # ------------------------------------------------------------------ generation
    async def generate(self, request: ChatRequest) -> Completion:
        reduced, info = await self._reduce(request)
        return self._with_info(await self.inner.generate(reduced), info)

    async def generate_batch(self, requests: Sequence[ChatRequest]) -> list[Completion | BackendError]:
        """Retrieval for all requests, then one batch for the inner backend (vLLM offline)."""
        prepared = await asyncio.gather(*(self._reduce(r) for r in requests), return_exceptions=True)
        out: list[Completion | BackendError | None] = [None] * len(requests)
        todo: list[tuple[int, ChatRequest, dict[str, Any]]] = []
        for i, item in enumerate(prepared):
            if isinstance(item, BackendError):
                out[i] = item
            elif isinstance(item, BaseException):
                raise item
            else:
                todo.append((i, *item))
        results = await self.inner.generate_batch([r for _, r, _ in todo]) if todo else []
        for (i, _, info), result in zip(todo, results, strict=True):
            out[i] = self._with_info(result, info) if isinstance(result, Completion) else result
        return [x for x in out if x is not None]


def _embedder(options: BackendOptions) -> Embedder:
    kind = _choice(options, "embedder", "st", ("st", "openai"))
    cache = int(options.option("embed_cache", 50_000, int))
    if kind == "st":
        return SentenceTransformerEmbedder(
            options.option("embed_model"),
            device=options.option("embed_device"),
            batch_size=_positive(options, "embed_batch_size", 64),
            cache_size=cache,
        )
    return OpenAIEmbedder(
        options.option("embed_model", "text-embedding-3-small"),
        base_url=options.option("embed_base_url"),
        api_key_env=options.api_key_env,
        batch_size=_positive(options, "embed_batch_size", 128),
        cache_size=cache,
    )


def create(options: BackendOptions) -> Backend:
    inner_name = str(options.option("inner", "openai"))
    if inner_name == "rag":
        raise HoloBenchError("the rag backend cannot wrap itself")
    retriever = _choice(options, "retriever", "bm25", ("bm25", "dense"))
    stemmer = str(options.option("stemmer", "english")).strip().lower()
    stopwords = str(options.option("stopwords", "en")).strip().lower()
    bm25 = BM25Scorer(None if stemmer == "none" else stemmer, None if stopwords == "none" else stopwords)
    if retriever == "bm25":
        bm25.check()
    embedder = _embedder(options) if retriever == "dense" else None
    remaining = {k: v for k, v in options.options.items() if k not in RAG_KEYS}
    inner = create_backend(inner_name, options.model_copy(update={"options": remaining}))
    return RagBackend(
        inner,
        retriever=retriever,
        chunking=_choice(options, "chunking", "line", ("line", "window")),
        budget=_positive(options, "budget", 2048),
        window_tokens=_positive(options, "window_tokens", 256),
        tokenizer=str(options.option("tokenizer", DEFAULT_TOKENIZER)),
        bm25=bm25,
        embedder=embedder,
    )
