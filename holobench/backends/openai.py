"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM's server, SGLang, llama.cpp's server,
Ollama, LiteLLM) through the ``openai`` SDK's async client.

The SDK's own retries are turned off: the shared client owns retries, so every backend behaves
alike.  The API key comes from an environment variable and never reaches settings, logs,
caches or error messages.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import openai

from holobench.backends.base import Backend, BackendError, ChatRequest, Completion, ContextLengthError, Usage
from holobench.backends.registry import BackendOptions

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long|exceeds? the model", re.I
)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
    choices = data.get("choices") if isinstance(data, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise BackendError("malformed response: no choices", retryable=True, kind="malformed")
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason") if isinstance(choice, dict) else None,
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
        model=data.get("model") if isinstance(data.get("model"), str) else model,
        extra={"reasoning": reasoning} if isinstance(reasoning, str) and reasoning else {},
    )


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        context_window: int | None = None,
    ) -> None:
        self._model = model
        self.base_url = base_url
        self.context_window = context_window
        self._secret = os.environ.get(api_key_env) or ""
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=self._secret or "not-needed",
            max_retries=0,
            timeout=None,
            http_client=_http_client(),
        )

    def settings(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self._model, "base_url": self.base_url or "https://api.openai.com/v1"}

    def _clean(self, text: str) -> str:
        """Error text as servers send it, minus anything that looks like our key."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return " ".join(text.split())[:300]

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

    async def generate(self, request: ChatRequest) -> Completion:
        s = request.sampling
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
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
        try:
            # The SDK's typed create() re-walks every message through its TypedDict transform (about
            # 3 ms of CPU for a long prompt) and builds a model of every response field (0.3 ms);
            # the body is plain JSON both ways, so post it through the same client and error
            # mapping and read the few fields we keep from the raw bytes.
            raw = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        except openai.RateLimitError as exc:
            raise BackendError(
                f"rate limited (429): {self._clean(exc.message)}",
                retryable=True,
                retry_after=_retry_after(exc),
                kind="rate_limit",
            ) from exc
        except openai.APIStatusError as exc:
            detail = self._clean(exc.message)
            if exc.status_code in (400, 413, 422) and _CONTEXT_LENGTH.search(detail):
                raise ContextLengthError(f"prompt exceeds the context window: {detail}") from exc
            retryable = exc.status_code >= 500 or exc.status_code in (408, 409)
            raise BackendError(
                f"HTTP {exc.status_code}: {detail}", retryable=retryable, retry_after=_retry_after(exc), kind="http"
            ) from exc
        except openai.APITimeoutError as exc:
            raise BackendError("request timed out", retryable=True, kind="timeout") from exc
        except openai.APIConnectionError as exc:
            raise BackendError(
                f"connection failed: {type(exc.__cause__).__name__}", retryable=True, kind="connection"
            ) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise BackendError(f"malformed response: {type(exc).__name__}", retryable=True, kind="malformed") from exc
        return _completion(raw, self._model)

    async def aclose(self) -> None:
        await self._client.close()


def create(options: BackendOptions) -> Backend:
    if not options.model:
        raise BackendError("the openai backend needs --model")
    return OpenAIBackend(options.model, options.base_url, options.api_key_env, options.context_window)
