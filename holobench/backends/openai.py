"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM's server, SGLang, llama.cpp's server,
Ollama, LiteLLM) through the ``openai`` SDK's async client.

The SDK's client is the client of record: it resolves the endpoint (``--base-url`` or
``OPENAI_BASE_URL``), the key, and every header it sends (user agent, organisation, project,
custom defaults), and it lists the models.  Chat requests then go out one of two ways
(``--option transport=...``):

* ``direct`` (default): posted on an aiohttp session, the transport under the SDK's own
  ``DefaultAioHttpClient``, with the URL and headers taken once from the SDK client.  The SDK's
  per-request pipeline (request options, header merging, URL parsing, httpx request and
  response objects) costs about 0.6 ms of CPU a request, more than everything else the runner
  does; at 64 requests in flight on two cores that alone keeps throughput under 95% of ideal.
* ``sdk``: every request through ``AsyncOpenAI.post``, for endpoints that need something only
  the SDK's pipeline does.

Both send the same body and read the same few fields from the raw response bytes, and both
classify errors the same way.  The SDK's own retries are turned off: the shared client owns
retries, so every backend behaves alike.  The API key comes from an environment variable and
never reaches settings, logs, caches or error messages.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import ssl
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
import openai

from holobench._urls import redact_url
from holobench.backends.base import Backend, BackendError, ChatRequest, Completion, ContextLengthError
from holobench.backends.registry import BackendOptions
from holobench.records import Usage

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long|exceeds? the model", re.I
)
TRANSPORTS = ("direct", "sdk")
OPTIONS = frozenset({"transport", "chat"})


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY), as the
    SDK's client would use it: a value without a scheme is ``http://``, and a NO_PROXY entry may
    name a host or a host:port.  Looked up once per session: aiohttp's ``trust_env`` looks it
    up, and reads ~/.netrc, on every request (about 0.6 ms)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return None
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _ssl_context() -> ssl.SSLContext:
    """The certificates the SDK's own HTTP client trusts (the OS store where it uses one, and
    SSL_CERT_FILE/SSL_CERT_DIR), so both transports accept the same servers."""
    for name in ("httpx2", "httpx"):  # openai releases before 3.x use httpx
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        context: ssl.SSLContext = module.create_ssl_context()
        return context
    return ssl.create_default_context()


def _http_client() -> Any:
    """aiohttp under the SDK when installed: httpx's connection pool costs several ms of CPU per
    request at high concurrency (it rechecks every pooled connection each time)."""
    try:
        return openai.DefaultAioHttpClient()
    except RuntimeError:  # openai[aiohttp] not installed
        return None


def _completion(raw: bytes, model: str) -> Completion:
    """A chat.completion body -> Completion; anything without a first choice is malformed."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BackendError(f"malformed response: {type(exc).__name__}", retryable=True, kind="malformed") from exc
    return completion_of(data, model)


def completion_of(data: Any, model: str) -> Completion:
    """A parsed chat.completion (or text_completion) body -> Completion."""
    choices = data.get("choices") if isinstance(data, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    # a chat.completion has a message; a text_completion (/v1/completions) has the text itself
    message = choice.get("message") if isinstance(choice, dict) else None
    if isinstance(choice, dict) and message is None and isinstance(choice.get("text"), str):
        message = {"content": choice["text"]}
    if not isinstance(message, dict):
        raise BackendError("malformed response: no choices", retryable=True, kind="malformed")
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return Completion(
        text=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason") if isinstance(choice, dict) else None,
        usage=usage_of(data),
        model=data.get("model") if isinstance(data.get("model"), str) else model,
        extra={"reasoning": reasoning} if isinstance(reasoning, str) and reasoning else {},
    )


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def usage_of(data: dict[str, Any]) -> Usage:
    """Token counts of a chat.completion body, with the prompt-cache hits where the server says:
    ``usage.prompt_tokens_details.cached_tokens`` (OpenAI; vLLM with
    ``--enable-prompt-tokens-details``; recent llama.cpp servers) or llama.cpp's
    ``timings.cache_n``."""
    usage: dict[str, Any] = data["usage"] if isinstance(data.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    timings = data.get("timings")
    if not cached and isinstance(timings, dict):
        cached = _count(timings.get("cache_n"))
    prompt = _count(usage.get("prompt_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=_count(usage.get("completion_tokens")),
        cached_prompt_tokens=min(cached, prompt) if prompt else cached,
    )


def _error_detail(status: int, raw: bytes) -> str:
    """What the server said: ``error.message`` (OpenAI, vLLM), ``error`` as a string (Ollama),
    a top-level ``message``, or else the body's text, so that a context-length complaint is
    recognised whatever shape it comes in."""
    text = raw.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return f"Error code: {status} - {text}"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"Error code: {status} - {error['message']}"
    if isinstance(error, str):
        return f"Error code: {status} - {error}"
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return f"Error code: {status} - {data['message']}"
    return f"Error code: {status} - {text}"


class OpenAIBackend(Backend):
    name = "openai"
    libraries = ("openai", "aiohttp")
    completions = True  # /v1/completions, for base models (vLLM and llama.cpp servers serve it)

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        context_window: int | None = None,
        transport: str = "direct",
        chat: bool | None = None,
    ) -> None:
        if transport not in TRANSPORTS:
            raise BackendError(f"option transport={transport!r}: use one of {', '.join(TRANSPORTS)}")
        self._model = model
        self.context_window = context_window
        self.transport = transport
        self.chat_template = chat  # a server does not say whether its model is a base model
        self._secret = os.environ.get(api_key_env) or ""
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=self._secret or "not-needed",
            max_retries=0,
            timeout=None,
            http_client=_http_client(),
        )
        self.base_url = str(self._client.base_url).rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {}
        self._params: dict[str, str] = {}
        self._proxy: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def settings(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self._model, "base_url": redact_url(self.base_url)}

    def _clean(self, text: str) -> str:
        """Error text as servers send it, minus anything that looks like our key."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return " ".join(text.split())[:300]

    def _connection_error(self, exc: BaseException) -> BackendError:
        """Names the endpoint (redacted), so an unreachable --base-url is obvious from the error."""
        detail = self._clean(str(exc)) or "no detail"
        return BackendError(
            f"connection to {redact_url(self.base_url)} failed: {type(exc).__name__}: {detail}",
            retryable=True,
            kind="connection",
        )

    async def prepare(self) -> None:
        """Learn the context window from the server when it says (vLLM reports max_model_len)."""
        if self.context_window is not None:
            return
        try:
            models = await self._client.models.list()
        except openai.OpenAIError:
            return
        for card in models.data:
            limit = (card.model_extra or {}).get("max_model_len")
            if card.id == self._model and isinstance(limit, int):
                self.context_window = limit

    def request_body(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for a request (a batch file's line holds the same)."""
        s = request.sampling
        completion = bool(request.metadata.get("completion"))
        body: dict[str, Any] = {
            "model": self._model,
            **(
                {"prompt": "".join(m.content for m in request.messages)}
                if completion
                else {"messages": [{"role": m.role, "content": m.content} for m in request.messages]}
            ),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.stop:
            body["stop"] = list(s.stop)
        if "response_format" in request.metadata:  # structured output (the judge's label schema)
            body["response_format"] = request.metadata["response_format"]
        return ("/completions" if completion else "/chat/completions"), body

    async def generate(self, request: ChatRequest) -> Completion:
        path, body = self.request_body(request)
        # Encoded by json's C encoder exactly as the SDK encodes bodies (UTF-8, compact); the
        # SDK's typed create() would re-walk every message through its TypedDict transform (about
        # 3 ms for a long prompt) and build a model of every response field.
        try:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except ValueError as exc:  # NaN or infinity in a sampling setting
            raise BackendError(f"request is not valid JSON: {exc}", kind="request") from exc
        raw = await (self._post_sdk(content, path) if self.transport == "sdk" else self._post_direct(content, path))
        return _completion(raw, self._model)

    # ------------------------------------------------------------------ transports
    def _status_error(self, status: int, detail: str, retry_after: float | None) -> BackendError:
        detail = self._clean(detail)
        if status == 429:
            return BackendError(
                f"rate limited (429): {detail}", retryable=True, retry_after=retry_after, kind="rate_limit"
            )
        if status in (400, 413, 422) and _CONTEXT_LENGTH.search(detail):
            return ContextLengthError(f"prompt exceeds the context window: {detail}")
        retryable = status >= 500 or status in (408, 409)
        return BackendError(f"HTTP {status}: {detail}", retryable=retryable, retry_after=retry_after, kind="http")

    async def _post_sdk(self, content: bytes, path: str = "/chat/completions") -> bytes:
        try:
            return await self._client.post(path, content=content, cast_to=bytes)
        except openai.APIStatusError as exc:
            # The body, not exc.message: the SDK keeps only a JSON error.message and drops a
            # plain-text or Ollama-style complaint, such as one about the context length.
            retry_after = _seconds(exc.response.headers.get("retry-after"))
            detail = _error_detail(exc.status_code, exc.response.content)
            raise self._status_error(exc.status_code, detail, retry_after) from exc
        except openai.APIConnectionError as exc:  # APITimeoutError included
            # The SDK's aiohttp transport reports a dropped connection as a connect timeout, so
            # the innermost cause decides: only a real timeout is one.
            root: BaseException = exc
            while root.__cause__ is not None:
                root = root.__cause__
            if isinstance(root, TimeoutError):
                raise BackendError("request timed out", retryable=True, kind="timeout") from exc
            raise self._connection_error(root) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise BackendError(f"malformed response: {type(exc).__name__}", retryable=True, kind="malformed") from exc

    def _open_session(self) -> aiohttp.ClientSession:
        """One session per backend, made inside the running loop, with the SDK client's headers
        (auth included) and query.  No session timeout: the shared client owns timeouts, and
        aiohttp's default (5 minutes) would cut long generations short."""
        headers = {**self._client.default_headers, **self._client.auth_headers}
        self._headers = {k: v for k, v in headers.items() if isinstance(v, str)}
        self._params = {str(k): str(v) for k, v in self._client.default_query.items() if isinstance(v, str | int)}
        self._proxy = proxy_for(self.base_url)
        self._loop = asyncio.get_running_loop()
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=_ssl_context()),  # the shared client bounds concurrency
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def _post_direct(self, content: bytes, path: str = "/chat/completions") -> bytes:
        if self._session is None or self._loop is not asyncio.get_running_loop():
            # first use, or a new event loop (a second asyncio.run): a session lives in one loop
            self._session = self._open_session()
        try:
            async with self._session.post(
                self.base_url + path,
                data=content,
                headers=self._headers,
                params=self._params or None,
                proxy=self._proxy,
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = _seconds(response.headers.get("retry-after"))
        except aiohttp.ClientConnectorCertificateError as exc:  # retrying will not make it trusted
            raise BackendError(f"TLS certificate not trusted: {exc.certificate_error}", kind="connection") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._connection_error(exc) from exc
        if status >= 400:
            raise self._status_error(status, _error_detail(status, raw), retry_after)
        return raw

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._client.close()


def create(options: BackendOptions) -> Backend:
    if not options.model:
        raise BackendError("the openai backend needs --model")
    transport = str(options.option("transport", "direct")).strip().lower()
    return OpenAIBackend(
        options.model,
        options.base_url,
        options.api_key_env,
        options.context_window,
        transport,
        chat=options.option("chat", None, bool),
    )
