"""The openai backend's two transports against a real loopback server: the same bytes on the
wire, the same error classification, proxies from the environment, and no key in any error."""

from __future__ import annotations

import asyncio
import json

import pytest

from holobench.backends import BackendOptions, SamplingParams
from holobench.backends.base import BackendError, ChatMessage, ChatRequest, Completion, ContextLengthError
from holobench.backends.openai import TRANSPORTS, OpenAIBackend, create, proxy_for
from holobench.testing.fake_server import FakeOpenAIServer, Fault, answer_for

SECRET = "sk-holobench-openai-SECRET-0042"
PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)
OLLAMA_STYLE = '{"error": "maximum context length exceeded"}'
TOP_LEVEL_MESSAGE = '{"message": "request exceeds the model limit"}'
# set by the SDK per attempt, or by each HTTP library for itself
PER_REQUEST = {"x-stainless-retry-count", "x-stainless-read-timeout", "x-stainless-timeout", "idempotency-key"}
LIBRARY = {"accept-encoding", "connection", "host", "content-length"}


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


def chat(text: str = "Zoë asks: how many rows? 東京", **metadata: object) -> ChatRequest:
    sampling = SamplingParams(max_tokens=32, stop=("\n\n",), seed=7, temperature=0.2)
    return ChatRequest("i-1", (ChatMessage(role="user", content=text),), sampling, "cot", metadata=dict(metadata))


def generate(backend: OpenAIBackend, request: ChatRequest) -> Completion:
    async def go() -> Completion:
        try:
            return await backend.generate(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def failure(backend: OpenAIBackend, request: ChatRequest) -> BackendError:
    with pytest.raises(BackendError) as info:
        generate(backend, request)
    return info.value


def test_both_transports_put_the_same_request_on_the_wire(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HB_KEY", SECRET)
    schema = {"type": "json_schema", "json_schema": {"name": "labels", "schema": {"type": "object"}}}
    answers = {}
    for transport in TRANSPORTS:
        backend = OpenAIBackend("fake-model", server.base_url, "HB_KEY", transport=transport)
        answers[transport] = generate(backend, chat(response_format=schema))
    direct, sdk = answers["direct"], answers["sdk"]
    assert direct == sdk and direct.text == answer_for(chat().messages[0].content)
    assert direct.usage.prompt_tokens > 0 and direct.finish_reason == "stop"
    (path_d, body_d), (path_s, body_s) = server.state.requests
    assert path_d == path_s == "/v1/chat/completions"
    assert body_d == body_s  # byte for byte
    assert json.loads(body_d) == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Zoë asks: how many rows? 東京"}],
        "temperature": 0.2,
        "top_p": 1.0,
        "max_tokens": 32,
        "seed": 7,
        "stop": ["\n\n"],
        "response_format": schema,
    }
    head_d, head_s = server.state.headers
    assert head_d["authorization"] == f"Bearer {SECRET}"
    assert head_d["content-type"] == "application/json"
    for name, value in head_s.items():  # every header the SDK chooses, with the SDK's value
        if name not in PER_REQUEST | LIBRARY:
            assert head_d.get(name) == value, name


@pytest.mark.parametrize(
    ("fault", "kind", "retryable", "retry_after", "status"),
    [
        (Fault("status", 429, retry_after=2.5), "rate_limit", True, 2.5, "429"),
        (Fault("status", 503, retry_after=1.0), "http", True, 1.0, "503"),
        (Fault("status", 500, body="upstream crashed"), "http", True, None, "500"),
        (Fault("status", 401, body=f"invalid key {SECRET}"), "http", False, None, "401"),
        (Fault("status", 404, body="no such model"), "http", False, None, "404"),
        (Fault("status", 400, body="maximum context length is 1024 tokens"), "context_length", False, None, "400"),
        (Fault("status", 400, body="temperature must be <= 2"), "http", False, None, "400"),
        (Fault("status", 400, body="prompt is too long: 9000 tokens", raw=True), "context_length", False, None, "400"),
        (Fault("status", 400, body=OLLAMA_STYLE, raw=True), "context_length", False, None, "400"),
        (Fault("status", 413, body=TOP_LEVEL_MESSAGE, raw=True), "context_length", False, None, "413"),
        (Fault("status", 502, body="<html>bad gateway</html>", raw=True), "http", True, None, "502"),
        (Fault("drop"), "connection", True, None, None),
        (Fault("malformed"), "malformed", True, None, None),
    ],
)  # fmt: skip
def test_both_transports_classify_errors_alike(
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    kind: str,
    retryable: bool,
    retry_after: float | None,
    status: str | None,
) -> None:
    monkeypatch.setenv("HB_KEY", SECRET)
    server.state.plan = lambda prompt, attempt: fault
    for transport in TRANSPORTS:
        error = failure(OpenAIBackend("fake-model", server.base_url, "HB_KEY", transport=transport), chat())
        assert (error.kind, error.retryable, error.retry_after) == (kind, retryable, retry_after), transport
        assert isinstance(error, ContextLengthError) == (kind == "context_length")
        assert SECRET not in str(error)
        if status is not None:
            assert status in str(error)
        if fault.body and not fault.raw:
            assert fault.body.replace(SECRET, "***") in str(error)


def test_a_server_that_is_not_there_is_a_retryable_connection_error(server: FakeOpenAIServer) -> None:
    url = server.base_url
    server.stop()
    for transport in TRANSPORTS:
        error = failure(OpenAIBackend("fake-model", url, transport=transport), chat())
        assert (error.kind, error.retryable) == ("connection", True)


def test_requests_follow_the_proxy_the_environment_names(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loopback server stands in for a forward proxy: it answers whatever reaches it."""
    proxy = server.base_url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    assert proxy_for("http://upstream.invalid/v1") == proxy
    for transport in TRANSPORTS:
        backend = OpenAIBackend("fake-model", "http://upstream.invalid/v1", transport=transport)
        assert generate(backend, chat()).text == answer_for(chat().messages[0].content)
    assert [path for path, _ in server.state.requests] == ["http://upstream.invalid/v1/chat/completions"] * 2
    assert {h["host"] for h in server.state.headers} == {"upstream.invalid"}
    # a proxy without a scheme is http://, as the SDK's client reads it
    monkeypatch.setenv("HTTP_PROXY", proxy.removeprefix("http://"))
    assert proxy_for("http://upstream.invalid/v1") == proxy
    # NO_PROXY by host:port applies only to that port
    monkeypatch.setenv("NO_PROXY", "upstream.invalid:8000")
    assert proxy_for("http://upstream.invalid:8000/v1") is None
    assert proxy_for("http://upstream.invalid:9000/v1") == proxy
    # NO_PROXY wins: the request goes straight to a host that does not resolve
    monkeypatch.setenv("NO_PROXY", "upstream.invalid")
    assert proxy_for("http://upstream.invalid/v1") is None
    error = failure(OpenAIBackend("fake-model", "http://upstream.invalid/v1"), chat())
    assert error.kind == "connection" and len(server.state.requests) == 2


def test_options_and_settings() -> None:
    backend = create(BackendOptions(model="m", base_url="http://127.0.0.1:9/v1/"))
    assert isinstance(backend, OpenAIBackend) and backend.transport == "direct"
    assert backend.settings() == {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}
    sdk = create(BackendOptions(model="m", base_url="http://127.0.0.1:9/v1", options={"transport": "SDK"}))
    assert isinstance(sdk, OpenAIBackend) and sdk.transport == "sdk"
    assert sdk.settings() == backend.settings()  # the transport changes no answer, so no cache key
    with pytest.raises(BackendError, match=r"transport='http2'.*direct, sdk"):
        create(BackendOptions(model="m", options={"transport": "http2"}))
    with pytest.raises(BackendError, match="needs --model"):
        create(BackendOptions())


def test_the_direct_session_leaves_timeouts_to_the_client(server: FakeOpenAIServer) -> None:
    """aiohttp's default 5-minute total timeout would cut long generations; the shared client's
    per-request timeout is the only one."""

    async def go() -> float | None:
        backend = OpenAIBackend("fake-model", server.base_url)
        try:
            await backend.generate(chat())
            assert backend._session is not None
            return backend._session.timeout.total
        finally:
            await backend.aclose()

    assert asyncio.run(go()) is None


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("openai", {"transprt": "sdk"}, r"backend 'openai' has no option 'transprt'; its options: chat, transport"),
        ("no-answer", {"model_path": "x"}, r"backend 'no-answer' has no option 'model_path'; its options: none"),
        ("llamacpp", {"n_gpu_layers": "9"}, r"has no option 'n_gpu_layers'; its options: chat, chat_format, n_batch"),
        ("rag", {"budget": "512", "temprature": "0"}, r"backend 'openai' has no option 'temprature'"),
    ],
)
def test_a_misspelt_option_is_an_error_naming_the_known_ones(
    backend: str, options: dict[str, str], message: str
) -> None:
    from holobench.backends import create_backend
    from holobench.errors import HoloBenchError

    if backend == "llamacpp":
        pytest.importorskip("llama_cpp")
    with pytest.raises(HoloBenchError, match=message):
        create_backend(backend, BackendOptions(model="m", options=options))


def test_the_sdk_own_encoder_sends_the_same_json(server: FakeOpenAIServer) -> None:
    """Guards against drift: the SDK's typed create() must produce the body both transports send."""
    import openai

    schema = {"type": "json_schema", "json_schema": {"name": "labels", "schema": {"type": "object"}}}
    request = chat(response_format=schema)
    generate(OpenAIBackend("fake-model", server.base_url), request)

    async def typed() -> None:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        try:
            s = request.sampling
            await client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "user", "content": request.messages[0].content}],
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_tokens,
                seed=s.seed,
                stop=list(s.stop),
                response_format=schema,  # type: ignore[arg-type]
            )
        finally:
            await client.close()

    asyncio.run(typed())
    ours, sdk = (json.loads(body) for _, body in server.state.requests)
    assert ours == sdk


def test_a_backend_serves_a_second_event_loop(server: FakeOpenAIServer) -> None:
    """A session belongs to one loop; a second asyncio.run gets a new one, not a closed-loop error."""
    backend = OpenAIBackend("fake-model", server.base_url)
    first = asyncio.run(backend.generate(chat()))
    second = asyncio.run(backend.generate(chat()))
    assert first.text == second.text == answer_for(chat().messages[0].content)


def test_a_non_finite_setting_is_refused_before_sending(server: FakeOpenAIServer) -> None:
    request = ChatRequest("n", chat().messages, SamplingParams(temperature=float("nan")), "cot")
    error = failure(OpenAIBackend("fake-model", server.base_url), request)
    assert (error.kind, error.retryable) == ("request", False) and not server.state.requests
