"""OpenAI's Batch API (Files + Batches) through the ``openai`` SDK: a run's requests go out as
JSONL input files of at most 50,000 requests and 200 MB, are answered within the completion
window at half the price, and come back as output and error files.

Each line of an input file is the body :class:`OpenAIBackend` would post, so a batch answer is
the answer a direct request gets; :meth:`generate` still sends single requests directly (the
judge, say).  Options: ``max_requests``, ``max_bytes`` (lower the limits), ``poll_interval``
(seconds, 30), ``completion_window`` (``24h``), and the openai backend's own.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from holobench.backends.base import Backend, BackendError, BatchAPI, BatchLimits, BatchState, ChatRequest, Completion
from holobench.backends.openai import OPTIONS as DIRECT_OPTIONS
from holobench.backends.openai import OpenAIBackend, _error_detail, _seconds, completion_of
from holobench.backends.registry import BackendOptions

LIMITS = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
OPTIONS = DIRECT_OPTIONS | {"max_requests", "max_bytes", "poll_interval", "completion_window"}
PENDING = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
NOT_RUN = frozenset({"batch_expired", "batch_cancelled"})


class OpenAIBatches(BatchAPI):
    provider = "openai"

    def __init__(self, backend: OpenAIBatchBackend, limits: BatchLimits, poll_interval: float, window: str) -> None:
        super().__init__(limits, poll_interval)
        self.backend = backend
        self.window = window

    def entry(self, custom_id: str, request: ChatRequest) -> bytes:
        path, body = self.backend.request_body(request)
        line = {"custom_id": custom_id, "method": "POST", "url": "/v1" + path, "body": body}
        try:
            return json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except ValueError as exc:
            raise BackendError(f"request is not valid JSON: {exc}", kind="request") from exc

    async def _sdk(self, call: Any) -> Any:
        """One SDK call, its errors classified as the direct transport's (no key in any text)."""
        try:
            return await call
        except openai.APIStatusError as exc:
            detail = _error_detail(exc.status_code, exc.response.content)
            retry_after = _seconds(exc.response.headers.get("retry-after"))
            raise self.backend._status_error(exc.status_code, detail, retry_after) from exc
        except openai.APIConnectionError as exc:
            raise self.backend._connection_error(exc) from exc

    async def submit(self, entries: list[bytes]) -> str:
        client = self.backend.sdk
        data = b"".join(e + b"\n" for e in entries)
        uploaded = await self._sdk(client.files.create(file=("holobench-batch.jsonl", data), purpose="batch"))
        endpoint = json.loads(entries[0])["url"]
        batch = await self._sdk(
            client.batches.create(
                input_file_id=uploaded.id,
                endpoint=endpoint,
                completion_window=self.window,  # type: ignore[arg-type]
                metadata={"client": "holobench"},
            )
        )
        return str(batch.id)

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._sdk(self.backend.sdk.batches.retrieve(batch_id))
        errors = [e.message for e in (batch.errors.data or [])] if batch.errors else []
        detail = self.backend._clean("; ".join(m for m in errors if m))
        return BatchState(phase="pending" if batch.status in PENDING else "ended", status=batch.status, detail=detail)

    async def results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        batch = await self._sdk(self.backend.sdk.batches.retrieve(batch_id))
        out: dict[str, Completion | BackendError] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._sdk(self.backend.sdk.files.content(file_id))
            for line in content.content.splitlines():
                if line.strip():
                    record = json.loads(line)
                    result = self._result(record)
                    if result is not None:
                        out[str(record.get("custom_id"))] = result
        return out

    def _result(self, record: dict[str, Any]) -> Completion | BackendError | None:
        """One output or error line; None for a request the batch never ran."""
        response = record.get("response")
        if isinstance(response, dict):
            status = int(response.get("status_code") or 0)
            body = response.get("body")
            if status == 200:
                return completion_of(body, self.backend.model)
            return self.backend._status_error(status, _error_detail(status, json.dumps(body).encode()), None)
        error: dict[str, Any] = record["error"] if isinstance(record.get("error"), dict) else {}
        if error.get("code") in NOT_RUN:
            return None
        return BackendError(self.backend._clean(f"{error.get('code')}: {error.get('message')}"), kind="batch")


class OpenAIBatchBackend(OpenAIBackend):
    name = "openai-batch"

    def __init__(
        self, *args: Any, limits: BatchLimits = LIMITS, poll_interval: float = 30.0, window: str = "24h", **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self._batches = OpenAIBatches(self, limits, poll_interval, window)

    @property
    def sdk(self) -> openai.AsyncOpenAI:
        return self._client

    def batch_api(self) -> BatchAPI:
        return self._batches


def batch_settings(options: BackendOptions, limits: BatchLimits) -> tuple[BatchLimits, float]:
    """The limits (never above the provider's) and the poll interval from ``--option``."""
    max_requests = int(options.option("max_requests", limits.max_requests, int))
    max_bytes = int(options.option("max_bytes", limits.max_bytes, int))
    poll = float(options.option("poll_interval", 30.0, float))
    if not (0 < max_requests <= limits.max_requests and 0 < max_bytes <= limits.max_bytes and poll >= 0):
        raise BackendError(
            f"options max_requests, max_bytes, poll_interval: need 0 < max_requests <= {limits.max_requests:,}, "
            f"0 < max_bytes <= {limits.max_bytes:,}, poll_interval >= 0"
        )
    return BatchLimits(max_requests=max_requests, max_bytes=max_bytes), poll


def create(options: BackendOptions) -> Backend:
    if not options.model:
        raise BackendError("the openai-batch backend needs --model")
    limits, poll = batch_settings(options, LIMITS)
    return OpenAIBatchBackend(
        options.model,
        options.base_url,
        options.api_key_env,
        options.context_window,
        str(options.option("transport", "direct")).strip().lower(),
        chat=options.option("chat", None, bool),
        limits=limits,
        poll_interval=poll,
        window=str(options.option("completion_window", "24h")),
    )
