"""Offline batched generation with vLLM's ``LLM`` class (needs a CUDA GPU: ``pip install 'holobench[vllm]'``).

API followed: vLLM v0.15.0, as documented at https://docs.vllm.ai/en/v0.15.0/api/vllm/entrypoints/llm/
and in ``vllm/entrypoints/llm.py``, ``vllm/sampling_params.py`` and ``vllm/outputs.py`` of that line:

* ``vllm.LLM(model, *, tensor_parallel_size, dtype, gpu_memory_utilization, trust_remote_code, hf_overrides,
  **kwargs)``; ``max_model_len`` and ``enable_prefix_caching`` travel through ``**kwargs`` to ``EngineArgs``.
  ``hf_overrides`` (a JSON object here) is how a context beyond the model's own is enabled (YaRN), as in
  vLLM's context-extension example.
* ``vllm.SamplingParams(temperature=, top_p=, max_tokens=, seed=, stop=)``.
* ``LLM.chat(messages, sampling_params=, use_tqdm=)``: a list of conversations, each a list of
  ``{"role", "content"}`` dicts, gives ``RequestOutput``s in the same order, with
  ``.prompt_token_ids``, ``.num_cached_tokens`` and ``.outputs[0].text / .token_ids / .finish_reason``.
* ``LLM.get_tokenizer().apply_chat_template(conversation, tokenize=True, add_generation_prompt=True)``;
  ``return_dict=False`` is passed because Transformers v5 returns a dict by default (vLLM does the same).
* ``LLM.llm_engine.model_config.max_model_len``: the context window actually in force.

``LLM.chat`` rejects a whole call when one prompt is longer than ``max_model_len``, so prompts are
counted first and those that do not fit come back as :class:`ContextLengthError` without being sent.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from holobench.backends.base import Backend, BackendError, ChatRequest, Completion, ContextLengthError, SamplingParams
from holobench.backends.registry import BackendOptions
from holobench.errors import HoloBenchError
from holobench.records import Usage

Conversation = list[dict[str, str]]


class VLLMBackend(Backend):
    name = "vllm"
    libraries = ("vllm", "torch", "transformers")
    #: the runner hands this backend whole batches (Client.complete_batch) instead of single requests
    prefers_batches = True
    batch_size: int

    def __init__(
        self,
        vllm: ModuleType,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        batch_size: int = 256,
        trust_remote_code: bool = False,
        hf_overrides: dict[str, Any] | None = None,
    ) -> None:
        if tensor_parallel_size < 1 or batch_size < 1 or (max_model_len is not None and max_model_len < 1):
            raise HoloBenchError("tensor_parallel_size, batch_size and max_model_len must be positive")
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise HoloBenchError("gpu_memory_utilization must be in (0, 1]")
        self._vllm = vllm
        self._model = model
        self.tensor_parallel_size = tensor_parallel_size
        self.enable_prefix_caching = enable_prefix_caching
        self.dtype = dtype
        self.batch_size = batch_size
        self.hf_overrides = hf_overrides
        engine_args: dict[str, Any] = {
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enable_prefix_caching": enable_prefix_caching,
            "trust_remote_code": trust_remote_code,
        }
        if max_model_len is not None:  # otherwise vLLM takes it from the model's config
            engine_args["max_model_len"] = max_model_len
        if hf_overrides is not None:
            engine_args["hf_overrides"] = hf_overrides
        self._llm: Any = vllm.LLM(model=model, **engine_args)
        self.max_model_len = int(self._llm.llm_engine.model_config.max_model_len)
        self.context_window = self.max_model_len
        self._tokenizer: Any = self._llm.get_tokenizer()
        # one LLM and one tokenizer: batches from concurrent callers run one after another
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "backend": self.name,
            "model": self._model,
            "tensor_parallel_size": self.tensor_parallel_size,
            "max_model_len": self.max_model_len,
            "enable_prefix_caching": self.enable_prefix_caching,
            "dtype": self.dtype,
        }
        if self.hf_overrides is not None:  # e.g. YaRN rope scaling changes the model's outputs
            settings["hf_overrides"] = self.hf_overrides
        return settings

    async def generate(self, request: ChatRequest) -> Completion:
        (result,) = await self.generate_batch([request])
        if isinstance(result, BackendError):
            raise result
        return result

    async def generate_batch(self, requests: Sequence[ChatRequest]) -> list[Completion | BackendError]:
        if not requests:
            return []
        return await asyncio.to_thread(self._run, list(requests))

    # ------------------------------------------------------------------ in the worker thread
    def _count(self, conversation: Conversation) -> int:
        ids = self._tokenizer.apply_chat_template(
            conversation, tokenize=True, add_generation_prompt=True, return_dict=False
        )
        if isinstance(ids, Mapping):
            ids = ids["input_ids"]
        return len(ids)

    def _sampling(self, s: SamplingParams) -> Any:
        return self._vllm.SamplingParams(
            temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed, stop=list(s.stop)
        )

    def _completion(self, output: Any) -> Completion:
        first = output.outputs[0]
        cached = getattr(output, "num_cached_tokens", None)  # prefix-cache hits (vLLM >= 0.6)
        return Completion(
            text=first.text,
            finish_reason=first.finish_reason,
            usage=Usage(
                prompt_tokens=len(output.prompt_token_ids or ()),
                completion_tokens=len(first.token_ids),
                cached_prompt_tokens=cached if isinstance(cached, int) else 0,
            ),
            model=self._model,
        )

    def _run(self, requests: list[ChatRequest]) -> list[Completion | BackendError]:
        results: list[Completion | BackendError | None] = [None] * len(requests)
        conversations = [[{"role": m.role, "content": m.content} for m in r.messages] for r in requests]
        groups: dict[SamplingParams, list[int]] = {}
        with self._lock:
            for i, (request, conversation) in enumerate(zip(requests, conversations, strict=True)):
                budget = self.max_model_len - request.sampling.max_tokens
                n = self._count(conversation)
                if n > budget:
                    results[i] = ContextLengthError(
                        f"prompt has {n} tokens; max_model_len={self.max_model_len} leaves {max(budget, 0)} "
                        f"after max_tokens={request.sampling.max_tokens}"
                    )
                else:
                    groups.setdefault(request.sampling, []).append(i)
            for sampling, indices in groups.items():
                params = self._sampling(sampling)
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    try:
                        outputs = self._llm.chat(
                            [conversations[i] for i in chunk], sampling_params=params, use_tqdm=False
                        )
                    except ValueError as exc:  # vLLM's validation errors; other failures propagate
                        for i in chunk:
                            results[i] = BackendError(f"vLLM rejected the batch: {exc}", kind="invalid_request")
                        continue
                    if len(outputs) != len(chunk):
                        for i in chunk:
                            results[i] = BackendError(f"vLLM returned {len(outputs)} outputs for {len(chunk)} prompts")
                        continue
                    for i, output in zip(chunk, outputs, strict=True):
                        results[i] = self._completion(output)
        return [r if r is not None else BackendError("no result", kind="malformed") for r in results]


OPTIONS = frozenset(
    {
        "tensor_parallel_size", "max_model_len", "enable_prefix_caching", "gpu_memory_utilization", "dtype",
        "batch_size", "trust_remote_code", "hf_overrides",
    }
)  # fmt: skip


def create(options: BackendOptions) -> Backend:
    if not options.model:
        raise BackendError("the vllm backend needs --model")
    try:
        vllm = importlib.import_module("vllm")
    except ImportError as exc:
        raise HoloBenchError(
            "backend 'vllm' needs 'vllm', which is not installed: pip install 'holobench[vllm]'"
        ) from exc
    return VLLMBackend(
        vllm,
        options.model,
        tensor_parallel_size=options.option("tensor_parallel_size", 1, int),
        max_model_len=options.option("max_model_len", options.context_window, int),
        enable_prefix_caching=options.option("enable_prefix_caching", True, bool),
        gpu_memory_utilization=options.option("gpu_memory_utilization", 0.9, float),
        dtype=options.option("dtype", "auto", str),
        batch_size=options.option("batch_size", 256, int),
        trust_remote_code=options.option("trust_remote_code", False, bool),
        hf_overrides=_json_object(options.option("hf_overrides")),
    )


def _json_object(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HoloBenchError(f"option hf_overrides is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise HoloBenchError("option hf_overrides must be a JSON object")
    return value
